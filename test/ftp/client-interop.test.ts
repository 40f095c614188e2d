/**
 * Interop: the netkit FTP client (CLI and library) against Debian's pyftpdlib, an independent
 * server started by this test (/usr/bin/python3; the test fails if it is missing).
 */
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpClient } from '../../src/ftp/client.js';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, sha256, startPyftpdlib, treeDigest, writeTree } from './client-helpers.js';

let base: string;
let cleanup: () => Promise<void>;
let home: string;
let anon: string;
let py: Awaited<ReturnType<typeof startPyftpdlib>>;
let url: string;
const env = { NETKIT_PASSWORD: 'py-Secret' };

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-py-'));
  home = path.join(base, 'home');
  anon = path.join(base, 'anon');
  await writeTree(home, { 'docs/readme.txt': 'from pyftpdlib\n', 'data.bin': pattern(120_000, 11) });
  await writeTree(anon, { 'pub.txt': 'anonymous file\n' });
  py = await startPyftpdlib('bob', env.NETKIT_PASSWORD, home, anon);
  url = `ftp://bob@127.0.0.1:${py.port}`;
});

afterAll(async () => {
  await py?.stop();
  await cleanup?.();
});

describe('netkit ftp against pyftpdlib', () => {
  it('ls -l and --json; anonymous ls', async () => {
    const json = await netkit(['ftp', 'ls', `${url}/`, '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    const entries = JSON.parse(json.stdout);
    expect(entries).toEqual([
      expect.objectContaining({
        name: 'data.bin',
        type: 'file',
        size: 120_000,
        modifiedAt: expect.any(String),
      }),
      expect.objectContaining({ name: 'docs', type: 'dir' }),
    ]);
    const long = await netkit(['ftp', 'ls', '-l', `ftp://127.0.0.1:${py.port}/`]);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).toMatch(/^-\S+\s+15\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+pub\.txt$/m);
  });

  it('get and put --continue resume byte-identically', async () => {
    // download interrupted after 50,000 bytes: the part file is continued with REST
    const dest = path.join(base, 'data.bin');
    await writeFile(`${dest}.part`, pattern(120_000, 11).subarray(0, 50_000));
    const get = await netkit(['ftp', 'get', `${url}/data.bin`, '-o', `${base}/`, '--continue'], { env });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stderr).toMatch(/saved .*data\.bin .*resumed at 48\.8 KiB/);
    expect(sha256(await readFile(dest))).toBe(sha256(pattern(120_000, 11)));
    await expect(stat(`${dest}.part`)).rejects.toThrow();

    // upload interrupted half-way: the server holds the first half, --continue appends (APPE)
    const body = pattern(200_000, 12);
    const src = path.join(base, 'up.bin');
    await writeFile(src, body);
    await writeFile(path.join(home, 'up.bin'), body.subarray(0, 100_000));
    const put = await netkit(['ftp', 'put', src, `${url}/`, '--continue', '--trace'], { env });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toContain('C: APPE up.bin');
    expect(put.stderr).toContain('C: PASS ****');
    expect(put.stderr).not.toContain(env.NETKIT_PASSWORD);
    expect(sha256(await readFile(path.join(home, 'up.bin')))).toBe(sha256(body));
  });

  it('mkdir -p, mv, rm, rm -r (library)', async () => {
    const client = await FtpClient.connect({
      host: '127.0.0.1',
      port: py.port,
      user: 'bob',
      password: env.NETKIT_PASSWORD,
    });
    try {
      await client.mkdir('x/y/z', { parents: true });
      const f = path.join(base, 'small.txt');
      await writeFile(f, 'small');
      await client.put(f, 'x/y/small.txt');
      await client.rename('x/y/small.txt', 'x/moved.txt');
      expect(await readFile(path.join(home, 'x/moved.txt'), 'utf8')).toBe('small');
      await client.remove('x/moved.txt');
      await expect(stat(path.join(home, 'x/moved.txt'))).rejects.toThrow();
      await expect(client.mkdir('x')).rejects.toMatchObject({ code: 'NETKIT_PROTOCOL', ftpCode: 550 });
    } finally {
      client.close();
    }
    const rmr = await netkit(['ftp', 'rm', '-r', `${url}/x/`], { env });
    expect(rmr.code, rmr.stderr).toBe(0);
    await expect(stat(path.join(home, 'x'))).rejects.toThrow();
  });

  it('mirror down and up with --only-newer and --delete: checksums equal', async () => {
    const T = new Date('2024-03-01T08:00:00Z');
    const site = path.join(base, 'site');
    await writeTree(site, {
      'a.txt': 'a',
      'sub/b.bin': pattern(30_000, 2),
      'sub/deep/c.txt': 'c',
      'old.txt': 'old',
    });
    for (const f of ['a.txt', 'sub/b.bin', 'sub/deep/c.txt', 'old.txt'])
      await utimes(path.join(site, f), T, T);
    const up = await netkit(['ftp', 'mirror', '--reverse', site, `${url}/site/`], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/uploaded 4 files/);
    expect(await treeDigest(path.join(home, 'site'))).toEqual(await treeDigest(site));

    const copy = path.join(base, 'copy');
    const down = await netkit(['ftp', 'mirror', `${url}/site/`, copy, '--json'], { env });
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ direction: 'down', transfers: 4, mkdirs: 2 });
    expect(await treeDigest(copy)).toEqual(await treeDigest(site));

    // change the source: a newer a.txt, old.txt gone, a new file; the copy has a stray file
    await writeFile(path.join(site, 'a.txt'), 'a, changed');
    await rm(path.join(site, 'old.txt'));
    await writeTree(site, { 'sub/new.txt': 'new' });
    await mkdir(path.join(copy, 'stray'));
    await writeFile(path.join(copy, 'stray/x'), 'x');
    const up2 = await netkit(
      ['ftp', 'mirror', '-R', site, `${url}/site/`, '--only-newer', '--delete', '--json'],
      { env },
    );
    expect(up2.code, up2.stderr).toBe(0);
    expect(JSON.parse(up2.stdout)).toMatchObject({ transfers: 2, deletes: 1, upToDate: 2 });
    expect(await treeDigest(path.join(home, 'site'))).toEqual(await treeDigest(site));

    const down2 = await netkit(['ftp', 'mirror', `${url}/site/`, copy, '--only-newer', '--delete'], { env });
    expect(down2.code, down2.stderr).toBe(0);
    expect(down2.stdout).toMatch(/downloaded 2 files .* 3 deleted, 2 up to date/);
    expect(await treeDigest(copy)).toEqual(await treeDigest(site));
  });

  it('--active (PORT): ls, get, put and a resumed get, byte-identical', async () => {
    const out = path.join(base, 'active');
    await mkdir(out);
    await writeTree(home, { 'act/one.txt': '1\n', 'act/two/three.txt': '3\n' });
    const ls = await netkit(['ftp', 'ls', `${url}/act/`, '--active', '--trace'], { env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toBe('one.txt\ntwo/\n');
    // pyftpdlib connects as soon as it accepts PORT, before the transfer command
    expect(ls.stderr).toMatch(/C: PORT 127,0,0,1,\d+,\d+\n/);
    expect(ls.stderr).toContain('S: 200 Active data connection established.');
    expect(ls.stderr).toContain('S: 125 Data connection already open. Transfer starting.');
    expect(ls.stderr).not.toMatch(/C: (EPSV|PASV)/);
    await writeFile(path.join(out, 'data.bin.part'), pattern(120_000, 11).subarray(0, 30_000));
    const get = await netkit(['ftp', 'get', `${url}/data.bin`, '-o', `${out}/`, '--active', '--continue'], {
      env,
    });
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(path.join(out, 'data.bin')))).toBe(sha256(pattern(120_000, 11)));
    const body = pattern(400_000, 13);
    await writeFile(path.join(out, 'active-up.bin'), body);
    const put = await netkit(['ftp', 'put', path.join(out, 'active-up.bin'), `${url}/`, '--active'], { env });
    expect(put.code, put.stderr).toBe(0);
    expect(sha256(await readFile(path.join(home, 'active-up.bin')))).toBe(sha256(body));
  });

  it('wrong password: one error line, exit 1', async () => {
    const r = await netkit(['ftp', 'ls', `${url}/`], { env: { NETKIT_PASSWORD: 'nope' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: login failed for user "bob" at 127\.0\.0\.1:\d+: 530 .*\n$/);
  });
});
