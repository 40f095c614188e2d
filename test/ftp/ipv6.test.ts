/**
 * FTP over IPv6 (RFC 2428) against independent peers: our server on ::1 with curl (`-g`, `-P ::1`)
 * and Python's ftplib on AF_INET6 — EPSV and EPRT work, PASV and PORT (IPv4 only) get 522; our
 * server on `::` (dual stack) with IPv4 clients in active mode (PORT, EPRT |1|), whose data
 * connection leaves from the IPv4 form of our address; and our client against pyftpdlib on ::1,
 * passive (EPSV) and active (EPRT).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, run, tempDir } from '../helpers/net.js';
import { pattern, sha256, startPyftpdlib, writeTree } from './client-helpers.js';
import { type Fixture, startFixture } from './fixture.js';
import { python } from './ftplib.js';

let v6: Fixture;
let dual: Fixture;

beforeAll(async () => {
  v6 = await startFixture({ host: '::1' });
  dual = await startFixture({ host: '::' }, { base: v6.base });
});
afterAll(async () => {
  await dual?.server.close(500);
  await v6?.cleanup();
});

const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '20', ...args]);

describe('our server on ::1', () => {
  it('curl -g lists and downloads over EPSV, and over EPRT with -P ::1', async () => {
    const url = `ftp://[::1]:${v6.port}/pub/`;
    const passive = await curl(['-g', '-l', '-v', url]);
    expect(passive.code, passive.stderr).toBe(0);
    expect(passive.stdout.split(/\r?\n/).filter(Boolean).sort()).toEqual(['docs', 'readme.txt']);
    expect(passive.stderr).toMatch(/^> EPSV\r?$/m);
    const active = await curl(['-g', '-P', '::1', '-v', `${url}readme.txt`]);
    expect(active.code, active.stderr).toBe(0);
    expect(active.stdout).toBe('line one\nline two\n');
    expect(active.stderr).toMatch(/^> EPRT \|2\|::1\|\d+\|\r?$/m);
  });

  it("ftplib on AF_INET6: EPSV and EPRT transfer; PASV, PORT and EPRT |1| get RFC 2428's 522", async () => {
    const r = await python(
      `
import socket
f = ftplib.FTP(timeout=10)
f.connect('::1', PORT)
f.login()
R['family'] = 6 if f.af == socket.AF_INET6 else 4
R['passive'] = get(f, '/pub/readme.txt').decode()
f.set_pasv(False)
R['active'] = get(f, '/pub/readme.txt').decode()
for cmd in ['PASV', 'PORT 127,0,0,1,156,64', 'EPRT |1|127.0.0.1|40000|']:
    try:
        R[cmd.split()[0] + (' 1' if '|1|' in cmd else '')] = f.sendcmd(cmd)
    except ftplib.all_errors as e:
        R[cmd.split()[0] + (' 1' if '|1|' in cmd else '')] = str(e)
R['after'] = get(f, '/pub/readme.txt').decode()
f.quit()
`,
      v6.port,
    );
    expect(r).toEqual({
      family: 6,
      passive: 'line one\nline two\n',
      active: 'line one\nline two\n',
      PASV: '522 Network protocol not supported, use (2): PASV carries IPv4 addresses only, use EPSV',
      PORT: '522 Network protocol not supported, use (2): PORT carries IPv4 addresses only, use EPRT',
      'EPRT 1': '522 Network protocol not supported, use (2)',
      after: 'line one\nline two\n',
    });
  });
});

describe('our server on :: (dual stack)', () => {
  it('an IPv4 client in active mode gets its data connection (PORT and EPRT |1|)', async () => {
    const r = await python(
      `
f = ftplib.FTP(timeout=10)
f.connect('127.0.0.1', PORT)
f.login()
f.set_pasv(False)
R['port'] = get(f, '/pub/readme.txt').decode()
f.quit()
`,
      dual.port,
    );
    // ftplib announces an IPv4 client with PORT, curl with EPRT |1|
    expect(r).toEqual({ port: 'line one\nline two\n' });
    const eprt = await curl(['-P', '127.0.0.1', '-v', `ftp://127.0.0.1:${dual.port}/pub/readme.txt`]);
    expect(eprt.code, eprt.stderr).toBe(0);
    expect(eprt.stdout).toBe('line one\nline two\n');
    expect(eprt.stderr).toMatch(/^> EPRT \|1\|127\.0\.0\.1\|\d+\|\r?$/m);
  });
});

describe('our client against pyftpdlib on ::1', () => {
  let py: Awaited<ReturnType<typeof startPyftpdlib>>;
  let dir: string;
  let cleanup: () => Promise<void>;
  const body = pattern(200_000, 61);
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('netkit-ftp6-py-'));
    await writeTree(path.join(dir, 'home'), { 'data.bin': body });
    py = await startPyftpdlib('bob', 'py-Secret', path.join(dir, 'home'), path.join(dir, 'home'), '::1');
  });
  afterAll(async () => {
    await py?.stop();
    await cleanup?.();
  });

  it('get over EPSV, put over EPRT: byte-identical', async () => {
    const env = { NETKIT_PASSWORD: 'py-Secret' };
    const url = `ftp://bob@[::1]:${py.port}`;
    const get = await netkit(['ftp', 'get', `${url}/data.bin`, '-o', `${dir}/`, '--trace'], { env });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stderr).toContain('C: EPSV');
    expect(sha256(await readFile(path.join(dir, 'data.bin')))).toBe(sha256(body));
    const up = path.join(dir, 'up.bin');
    await writeFile(up, body.subarray(0, 70_000));
    const put = await netkit(['ftp', 'put', up, `${url}/`, '--active', '--trace'], { env });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toMatch(/C: EPRT \|2\|::1\|\d+\|/);
    expect(sha256(await readFile(path.join(dir, 'home', 'up.bin')))).toBe(sha256(body.subarray(0, 70_000)));
  });
});
