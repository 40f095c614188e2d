/**
 * The FTP client's active mode (PORT for IPv4, EPRT for IPv6; client-active.ts) against our server
 * (plain, explicit FTPS, IPv6, port range) and a scripted fake server (a refused PORT, an intruder
 * that connects to the data port first, the announced address override). The interop tests with
 * vsftpd, pyftpdlib and pure-ftpd are in their own files.
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { FtpClient, type FtpClientError } from '../../src/ftp/client.js';
import { mirrorDown } from '../../src/ftp/client-mirror.js';
import { createFtpServer, type FtpServerHandle, type FtpServerOptions } from '../../src/ftp/server.js';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, sha256, startOurFtpServer, treeDigest } from './client-helpers.js';
import { fakeFtp } from './fake-ftp.js';

const PW = 'dave-Secret-42';
let base: string;
let cleanup: () => Promise<void>;
let server: FtpServerHandle;
let server6: FtpServerHandle;
let home: string;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-active-'));
  let options: FtpServerOptions;
  ({ server, home, options } = await startOurFtpServer(
    base,
    { user: 'dave', password: PW },
    { 'big.bin': pattern(3_000_000, 41), 'tree/a.txt': 'a\n', 'tree/sub/b.bin': pattern(90_000, 42) },
  ));
  server6 = await createFtpServer({ ...options, host: '::1' });
});

afterAll(async () => {
  await server?.close(500);
  await server6?.close(500);
  await cleanup?.();
});

const connect = (extra: Partial<Parameters<typeof FtpClient.connect>[0]> = {}, events?: TraceEvent[]) =>
  FtpClient.connect(
    { host: '127.0.0.1', port: server.port, user: 'dave', password: PW, active: true, ...extra },
    (c) => {
      if (events) c.on('trace', (ev: TraceEvent) => events.push(ev));
    },
  );

const sent = (events: TraceEvent[]) => events.filter((e) => e.kind === 'out').map((e) => e.text);
const notes = (events: TraceEvent[]) => events.filter((e) => e.kind === 'info').map((e) => e.text);

describe('active mode against our server', () => {
  it('get, put, list, resume and mirror over PORT; the server connects to us', async () => {
    const events: TraceEvent[] = [];
    const client = await connect({}, events);
    try {
      expect(client.isActive).toBe(true);
      const dest = path.join(base, 'big.bin');
      const got = await client.get('big.bin', dest);
      expect(got.size).toBe(3_000_000);
      expect(sha256(await readFile(dest))).toBe(sha256(pattern(3_000_000, 41)));

      const part = path.join(base, 'resumed.bin');
      await writeFile(`${part}.part`, pattern(3_000_000, 41).subarray(0, 1_000_000));
      const resumed = await client.get('big.bin', part, { resume: true });
      expect(resumed).toMatchObject({ resumedFrom: 1_000_000, transferred: 2_000_000 });
      expect(sha256(await readFile(part))).toBe(sha256(pattern(3_000_000, 41)));

      const body = pattern(2_500_000, 43);
      await writeFile(path.join(base, 'up.bin'), body);
      await client.put(path.join(base, 'up.bin'), 'up.bin');
      expect(sha256(await readFile(path.join(home, 'up.bin')))).toBe(sha256(body));
      await writeFile(path.join(base, 'empty.bin'), '');
      await client.put(path.join(base, 'empty.bin'), 'empty.bin');
      expect((await readFile(path.join(home, 'empty.bin'))).length).toBe(0);

      const names = (await client.list('tree')).map((e) => e.name).sort();
      expect(names).toEqual(['a.txt', 'sub']);
      const out = path.join(base, 'mirror');
      await mirrorDown(client, 'tree', out);
      expect(await treeDigest(out)).toEqual(await treeDigest(path.join(home, 'tree')));
    } finally {
      client.close();
    }
    const ports = sent(events).filter((t) => /^(PORT|EPRT|EPSV|PASV)\b/.test(t));
    expect(ports.length).toBeGreaterThanOrEqual(6);
    for (const p of ports) expect(p).toMatch(/^PORT 127,0,0,1,\d+,\d+$/);
    expect(notes(events).some((t) => /^active data connection from 127\.0\.0\.1:\d+$/.test(t))).toBe(true);
    // basic-ftp's own line would describe the stand-in socket before the server connected
    expect(notes(events).some((t) => /^(Downloading from|Uploading to) /.test(t))).toBe(false);
  });

  it('explicit FTPS: the data connection the server opens is TLS, we are its client', async () => {
    const events: TraceEvent[] = [];
    const client = await connect({ tls: 'explicit', rejectUnauthorized: false }, events);
    try {
      const body = pattern(1_200_000, 44);
      await writeFile(path.join(base, 'tls-up.bin'), body);
      await client.put(path.join(base, 'tls-up.bin'), 'tls-up.bin');
      expect(sha256(await readFile(path.join(home, 'tls-up.bin')))).toBe(sha256(body));
      const dest = path.join(base, 'tls-down.bin');
      await client.get('tls-up.bin', dest);
      expect(sha256(await readFile(dest))).toBe(sha256(body));
      expect((await client.list('')).some((e) => e.name === 'tls-up.bin')).toBe(true);
    } finally {
      client.close();
    }
    expect(sent(events)).toContain('PROT P');
    expect(
      notes(events).filter((t) => /^active data connection from .* \(TLSv1\.[23]\)$/.test(t)),
    ).toHaveLength(3);
  });

  it('IPv6 announces with EPRT', async () => {
    const events: TraceEvent[] = [];
    const client = await connect({ host: '::1', port: server6.port }, events);
    try {
      const dest = path.join(base, 'v6.bin');
      await client.get('tree/sub/b.bin', dest);
      expect(sha256(await readFile(dest))).toBe(sha256(pattern(90_000, 42)));
    } finally {
      client.close();
    }
    expect(sent(events)).toContainEqual(expect.stringMatching(/^EPRT \|2\|::1\|\d+\|$/));
  });

  it('ports come from the configured range; the shell-style switch back to passive works', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const free = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const events: TraceEvent[] = [];
    const client = await connect({ active: { ports: [free, free] } }, events);
    try {
      await client.get('tree/a.txt', path.join(base, 'ranged.txt'));
      client.setActive(false);
      expect(client.isActive).toBe(false);
      await client.get('tree/a.txt', path.join(base, 'passive.txt'));
    } finally {
      client.close();
    }
    expect(sent(events)).toContain(`PORT 127,0,0,1,${free >> 8},${free & 255}`);
    expect(sent(events)).toContain('EPSV');
  });
});

describe('active mode against a scripted server', () => {
  const FILES = { 'f.bin': pattern(300_000, 45) };

  it('a data connection from another address is refused; the real one delivers the file', async () => {
    const fake = await fakeFtp({ files: FILES, intruderFrom: '127.0.0.2' });
    const events: TraceEvent[] = [];
    const client = await FtpClient.connect({ host: '127.0.0.1', port: fake.port, active: true }, (c) =>
      c.on('trace', (ev: TraceEvent) => events.push(ev)),
    );
    try {
      const dest = path.join(base, 'intruded.bin');
      await client.get('f.bin', dest);
      expect(sha256(await readFile(dest))).toBe(sha256(FILES['f.bin']));
    } finally {
      client.close();
      await fake.close();
    }
    expect(fake.intruderRefused).toEqual([true]);
    expect(notes(events)).toContain('active mode: refused a data connection from 127.0.0.2, not the server');
  });

  it('a refused PORT is a one-line error with the reply code, and no listener is left', async () => {
    const fake = await fakeFtp({ files: FILES, portReply: '500 Illegal PORT command.' });
    const client = await FtpClient.connect({ host: '127.0.0.1', port: fake.port, active: true });
    try {
      const err = (await client
        .get('f.bin', path.join(base, 'refused.bin'))
        .catch((e) => e)) as FtpClientError;
      expect(err.ftpCode).toBe(500);
      expect(err.message).toMatch(/Illegal PORT command/);
      // the session goes on: another attempt is refused alike
      const again = (await client.list('').catch((e) => e)) as FtpClientError;
      expect(again.ftpCode).toBe(500);
      // and the data port each refused PORT announced is closed again
      const announced = fake.commands.filter((c) => c.startsWith('PORT '));
      expect(announced).toHaveLength(2);
      for (const line of announced) {
        const n = line.slice(5).split(',').map(Number);
        const refused = await new Promise<string>((resolve) => {
          const s = net.connect(n[4]! * 256 + n[5]!, '127.0.0.1', () => resolve('connected'));
          s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        expect(refused).toBe('ECONNREFUSED');
      }
    } finally {
      client.close();
      await fake.close();
    }
  });

  it('an announced address (NAT) replaces the local one in PORT', async () => {
    const fake = await fakeFtp({ files: FILES });
    const client = await FtpClient.connect({
      host: '127.0.0.1',
      port: fake.port,
      active: { address: '127.0.0.1' },
    });
    try {
      await client.get('f.bin', path.join(base, 'nat.bin'));
    } finally {
      client.close();
      await fake.close();
    }
    expect(fake.commands.find((c) => c.startsWith('PORT '))).toMatch(/^PORT 127,0,0,1,\d+,\d+$/);
  });
});

describe('netkit ftp --active', () => {
  it('get, put and ls with --active and --trace', async () => {
    const env = { NETKIT_PASSWORD: PW };
    const url = `ftp://dave@127.0.0.1:${server.port}`;
    await mkdir(path.join(base, 'cli'), { recursive: true });
    const get = await netkit(
      ['ftp', 'get', `${url}/big.bin`, '-o', path.join(base, 'cli/'), '--active', '--trace'],
      {
        env,
      },
    );
    expect(get.code, get.stderr).toBe(0);
    expect(get.stderr).toMatch(/C: PORT 127,0,0,1,\d+,\d+/);
    expect(sha256(await readFile(path.join(base, 'cli/big.bin')))).toBe(sha256(pattern(3_000_000, 41)));
    const ls = await netkit(['ftp', 'ls', `${url}/tree/`, '--active'], { env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(['a.txt', 'sub/']);
    const bad = await netkit(['ftp', 'ls', `${url}/tree/`, '--active-ports', '80-90'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: .*1024-65535/m);
    const named = await netkit(['ftp', 'ls', `${url}/tree/`, '--active-address', 'gateway.lan'], { env });
    expect(named.code).toBe(2);
    expect(named.stderr).toBe(
      'netkit: active mode announces an IP address, not "gateway.lan" (PORT and EPRT carry no names)\n',
    );
  });
});
