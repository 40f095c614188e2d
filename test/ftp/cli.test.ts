/** `netkit ftp serve` as users run it: the built CLI, --json, --trace, flags, exit codes. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { generateDevCertificate } from '../../src/core/tls.js';
import { LineClient, netkit, run, startServe, tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-ftp-cli-'));
  await new AccountStore(path.join(dir, 'data')).add('carol', 'carol-secret');
});
afterAll(() => cleanup());

describe('netkit ftp serve', () => {
  it('has help with examples', async () => {
    const r = await netkit(['ftp', 'serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toMatch(/--passive-ports/);
    expect(r.stdout).toMatch(/--require-tls/);
    expect(r.stdout).toMatch(/--max-upload-size/);
    expect(r.stdout).toMatch(/--min-free-space <size> .*\(default: 100M\)/s);
  });

  it.each([
    [['--passive-ports', '80-90'], /'--passive-ports <range>' .*a port range must lie within 1024-65535/],
    [['--perms-real', 'elrX'], /unknown FTP permission/],
    [['--port', 'x'], /not a port/],
    [['--max-upload-size', 'lots'], /'--max-upload-size <size>' .*is not a size/],
    [['--max-download-rate', 'fast'], /'--max-download-rate <rate>'/],
  ])('rejects bad flags %j with exit 2', async (args, message) => {
    const r = await netkit(['ftp', 'serve', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--max-line-length sets the longest command line (500)', async () => {
    const srv = await startServe([
      'ftp',
      'serve',
      '--port',
      '0',
      '--data',
      path.join(dir, 'data-ml'),
      '--max-line-length',
      '40',
    ]);
    try {
      const c = await LineClient.connect(srv.listening[0]!.port);
      await c.line();
      c.send('USER anonymous\r\nPASS guest@example.org\r\n');
      expect(await c.line()).toMatch(/^331 /);
      expect(await c.line()).toMatch(/^230 /);
      c.send(`CWD ${'x'.repeat(60)}\r\nNOOP\r\n`);
      expect(await c.line()).toBe('500 Line too long (over 40 bytes)');
      expect(await c.line()).toMatch(/^200 /);
      c.close();
    } finally {
      await srv.stop();
    }
  });

  it('a client that pipelines commands and never reads is held back, not queued for: its session ends at the idle timeout', async () => {
    const srv = await startServe([
      'ftp',
      'serve',
      '--port',
      '0',
      '--data',
      path.join(dir, 'data-mq'),
      '--max-queue',
      '64k',
      '--idle-timeout',
      '1s',
      '--trace',
    ]);
    try {
      const c = await LineClient.connect(srv.listening[0]!.port);
      await c.line();
      c.send('USER anonymous\r\nPASS guest@example.org\r\n');
      expect(await c.line()).toMatch(/^331 /);
      expect(await c.line()).toMatch(/^230 /);
      c.socket.pause();
      // megabytes of 4 KB replies (550 echoes the path) if all were answered: past the kernel's
      // socket buffers and past 64 KiB, which queued would drop the client; answered only as fast
      // as they are read, the commands wait and the idle timer ends the session
      c.socket.write(`CWD ${'a'.repeat(4000)}\r\n`.repeat(2500));
      const first = await Promise.race([
        srv.printed('S: 421 Idle timeout').then(() => 'idle timeout'),
        srv.printed('peer not reading, dropped').then(() => 'dropped at --max-queue'),
      ]);
      expect(first).toBe('idle timeout');
      c.close();
    } finally {
      await srv.stop();
    }
  });

  it('serves with --json and --trace: listening line, session log, PASS hidden, clean exit', async () => {
    const data = path.join(dir, 'data');
    const root = path.join(dir, 'tree');
    await mkdir(path.join(root, 'pub'), { recursive: true });
    await writeFile(path.join(root, 'pub/hello.txt'), 'hello from the CLI\n');
    const srv = await startServe([
      'ftp',
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--root',
      root,
      '--passive-ports',
      '40000-40100',
      '--login-delay',
      '10ms',
      '--trace',
    ]);
    let stdout = '';
    let stderr = '';
    srv.child.stdout!.on('data', (d) => {
      stdout += d.toString();
    });
    srv.child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    try {
      expect(srv.listening).toEqual([
        { service: 'ftp', host: '127.0.0.1', port: expect.any(Number), tls: false },
      ]);
      const port = srv.listening[0]!.port;
      const anon = await run('curl', ['-sS', `ftp://127.0.0.1:${port}/pub/hello.txt`]);
      expect(anon.stdout).toBe('hello from the CLI\n');
      const list = await run('curl', [
        '-sS',
        '--disable-epsv',
        '-u',
        'carol:carol-secret',
        `ftp://127.0.0.1:${port}/`,
      ]);
      expect(list.code).toBe(0);
      const bad = await run('curl', ['-sS', '-u', 'carol:wrong-secret', `ftp://127.0.0.1:${port}/`]);
      expect(bad.code).toBe(67);
    } finally {
      await srv.stop();
    }
    expect(srv.child.exitCode).toBe(0);
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.event === 'login' && e.user === 'carol' && e.class === 'real')).toBe(true);
    expect(
      events.some(
        (e) => e.event === 'transfer' && e.transfer.file === '/pub/hello.txt' && e.transfer.state === 'done',
      ),
    ).toBe(true);
    expect(stderr).toMatch(/C: USER carol/);
    expect(stderr).toMatch(/C: PASS \*\*\*\*/);
    expect(stderr).toMatch(/S: 227 Entering Passive Mode \(127,0,0,1,15\d,\d+\)/);
    expect(stderr).not.toMatch(/carol-secret|wrong-secret/);
  });

  it('--cert/--key inside the tree: TLS works with them, and nobody can download or list them', async () => {
    const root = path.join(dir, 'tree-keys');
    await mkdir(path.join(root, 'pub/certs'), { recursive: true });
    const pair = await generateDevCertificate();
    await writeFile(path.join(root, 'pub/certs/key.pem'), pair.key, { mode: 0o600 });
    await writeFile(path.join(root, 'pub/cert.pem'), pair.cert);
    await writeFile(path.join(root, 'pub/hello.txt'), 'hello\n');
    // relative to the working directory, as typed: `ftp serve --root . --cert pub/cert.pem …`
    const srv = await startServe(
      [
        'ftp',
        'serve',
        '--port',
        '0',
        '--data',
        path.join(dir, 'data-keys'),
        '--root',
        '.',
        '--cert',
        'pub/cert.pem',
        '--key',
        'pub/certs/key.pem',
      ],
      1,
      { cwd: root },
    );
    try {
      const url = `ftp://127.0.0.1:${srv.listening[0]!.port}/pub/`;
      // curl: 78 = the server says there is no such file (RETR 550)
      for (const name of ['certs/key.pem', 'cert.pem']) {
        const r = await run('curl', ['-sS', `${url}${name}`]);
        expect([name, r.code, r.stdout]).toEqual([name, 78, '']);
      }
      const secure = await run('curl', ['-sS', '--ssl-reqd', '-k', `${url}hello.txt`]);
      expect(secure.stdout).toBe('hello\n');
      const listed = await run('curl', ['-sS', '--ssl-reqd', '-k', '-l', url]);
      expect(listed.stdout.split(/\r?\n/).filter(Boolean).sort()).toEqual(['certs', 'hello.txt']);
      const inCerts = await run('curl', ['-sS', '--ssl-reqd', '-k', '-l', `${url}certs/`]);
      expect([inCerts.code, inCerts.stdout]).toEqual([0, '']);
    } finally {
      await srv.stop();
    }
  });
});
