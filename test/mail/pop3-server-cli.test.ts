/** `netkit pop3 serve`: help, usage errors, --json listening lines, --trace, and the cross-process lock. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Maildir } from '../../src/mail/maildir.js';
import { createPop3Server } from '../../src/mail/pop3-server.js';
import { CLI, LineClient, netkit, startServe, tempDir } from '../helpers/net.js';

let dataDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: dataDir, cleanup } = await tempDir());
  await Maildir.open(dataDir, 'bob').deliver(Buffer.from('Subject: cli\r\n\r\nhello from the CLI\r\n'));
});
afterAll(() => cleanup());

describe('netkit pop3 serve', () => {
  it('has help with examples', async () => {
    const r = await netkit(['pop3', 'serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    for (const flag of [
      '--host',
      '--port',
      '--tls-port',
      '--data',
      '--allow-plaintext',
      '--auth-accept-any',
      '--json',
      '--trace',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('exits 2 on usage errors', async () => {
    expect((await netkit(['pop3', 'serve', '--port', 'nope'])).code).toBe(2);
    const half = await netkit(['pop3', 'serve', '--port', '0', '--cert', 'x.pem', '--data', dataDir]);
    expect(half.code).toBe(2);
    expect(half.stderr).toBe('netkit: --cert and --key go together\n');
  });

  it('--handshake-timeout drops a client on the TLS port that never starts its handshake', async () => {
    const srv = await startServe(
      ['pop3', 'serve', '--port', '0', '--tls-port', '0', '--data', dataDir, '--handshake-timeout', '300ms'],
      2,
    );
    try {
      const tlsPort = srv.listening.find((l) => l.tls)!.port;
      const silent = await LineClient.connect(tlsPort);
      const started = Date.now();
      // nothing on our side closes it: the server does, after 300 ms (the default is 10 s)
      await silent.closed;
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await srv.stop();
    }
  });

  it('announces both sockets with --json, serves mail, traces without the password', async () => {
    const srv = await startServe(
      ['pop3', 'serve', '--port', '0', '--tls-port', '0', '--data', dataDir, '--auth-accept-any', '--trace'],
      2,
    );
    let stderr = '';
    srv.child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    let stdout = '';
    const quitLine = new Promise<void>((resolve) => {
      srv.child.stdout!.on('data', (d) => {
        stdout += d.toString();
        if (stdout.includes('"event":"quit"')) resolve();
      });
    });
    try {
      expect(srv.listening).toEqual([
        { service: 'pop3', host: '127.0.0.1', port: expect.any(Number), tls: false },
        { service: 'pop3', host: '127.0.0.1', port: expect.any(Number), tls: true },
      ]);
      const c = await LineClient.connect(srv.listening[0]!.port);
      expect(await c.line()).toBe('+OK netkit POP3 server ready');
      c.send('USER bob\r\nPASS top-secret-pw\r\nRETR 1\r\nQUIT\r\n');
      await c.until(/^hello from the CLI$/);
      await c.until(/signing off/);
      await c.closed;
      await quitLine;
      const events = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(events.map((e) => e.event)).toEqual(['login', 'quit']);
      expect(events[0]).toMatchObject({ mailbox: 'bob', mechanism: 'USER', secure: false, messages: 1 });
      expect(events[1]).toMatchObject({ mailbox: 'bob', retrieved: 1, deleted: [] });
      expect(stderr).toMatch(/\[pop3#\d+\] C: PASS \*\*\*\*/);
      expect(stderr).toMatch(/\[pop3#\d+\] S: \+OK logged in: mailbox bob has 1 message/);
      expect(stderr).not.toContain('top-secret-pw');
    } finally {
      await srv.stop();
    }
    expect(srv.child.exitCode).toBe(0);
  });

  it('prints a failed login (without --json) with the user name made terminal-safe', async () => {
    const child = spawn(process.execPath, [
      CLI,
      'pop3',
      'serve',
      '--port',
      '0',
      '--data',
      dataDir,
      '--login-delay',
      '0',
    ]);
    let stdout = '';
    const seen = (re: RegExp) =>
      new Promise<RegExpExecArray>((resolve) => {
        const look = () => {
          const m = re.exec(stdout);
          if (m) {
            child.stdout.off('data', look);
            resolve(m);
          }
        };
        child.stdout.on('data', look);
        look();
      });
    child.stdout.on('data', (d) => {
      stdout += d.toString('latin1');
    });
    try {
      const port = Number((await seen(/listening on 127\.0\.0\.1:(\d+)\n/))[1]);
      const c = await LineClient.connect(port);
      expect(await c.line()).toBe('+OK netkit POP3 server ready');
      // POP3 is 8-bit (the server reads latin1): byte 0x9b is the C1 CSI, 0x85 the C1 next-line
      c.socket.write(Buffer.from('USER \u009b31mbob\u0085evil\r\nPASS wrong\r\n', 'latin1'));
      const line = (await seen(/failed login for .*\n/))[0];
      c.close();
      expect(line).toContain('failed login for "\\u009b31mbob\\u0085evil" from 127.0.0.1');
      // no C1 character, in any encoding (UTF-8 writes U+009B as C2 9B)
      expect(line).not.toMatch(/[\u0080-\u009f]/);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('--max-per-ip limits the connections from one client address', async () => {
    const srv = await startServe(['pop3', 'serve', '--port', '0', '--data', dataDir, '--max-per-ip', '1']);
    try {
      const port = srv.listening[0]!.port;
      const a = await LineClient.connect(port);
      expect(await a.line()).toBe('+OK netkit POP3 server ready');
      const b = await LineClient.connect(port);
      expect(await b.line()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
      const other = await LineClient.connect(port, '127.0.0.1', '127.0.0.2');
      expect(await other.line()).toBe('+OK netkit POP3 server ready');
      a.close();
      other.close();
    } finally {
      await srv.stop();
    }
  });

  it('--max-line-length sets the longest command line', async () => {
    const srv = await startServe([
      'pop3',
      'serve',
      '--port',
      '0',
      '--data',
      dataDir,
      '--max-line-length',
      '40',
    ]);
    try {
      const c = await LineClient.connect(srv.listening[0]!.port);
      await c.line();
      c.send(`USER ${'x'.repeat(60)}\r\nQUIT\r\n`);
      expect(await c.line()).toMatch(/^-ERR .*line too long/i);
      expect(await c.line()).toMatch(/^\+OK /);
      c.close();
    } finally {
      await srv.stop();
    }
  });

  it('a client that pipelines commands and never reads is held back, not queued for: its session ends at the idle timeout', async () => {
    const srv = await startServe([
      'pop3',
      'serve',
      '--port',
      '0',
      '--data',
      dataDir,
      '--auth-accept-any',
      '--max-queue',
      '64k',
      '--idle-timeout',
      '1s',
      '--trace',
    ]);
    try {
      const c = await LineClient.connect(srv.listening[0]!.port);
      await c.line();
      c.send('USER bob\r\nPASS x\r\n');
      await c.line();
      expect(await c.line()).toContain('+OK logged in');
      c.socket.pause();
      // megabytes of UIDL replies if all were answered: past the kernel's socket buffers and past
      // 64 KiB (which, queued, would drop the client); answered only as fast as they are read
      // (Dovecot's output throttle), the commands wait and the idle timer ends the session
      c.socket.write('UIDL 1\r\n'.repeat(100_000));
      const first = await Promise.race([
        srv.printed('S: -ERR autologout: idle for too long').then(() => 'idle timeout'),
        srv.printed('peer not reading, dropped').then(() => 'dropped at --max-queue'),
      ]);
      expect(first).toBe('idle timeout');
      c.close();
    } finally {
      await srv.stop();
    }
  });

  it('excludes a session in another server process on the same data directory ([IN-USE])', async () => {
    const inProcess = await createPop3Server({ dataDir, port: 0, tls: false, authAcceptAny: true });
    const other = await startServe(['pop3', 'serve', '--port', '0', '--data', dataDir, '--auth-accept-any']);
    try {
      const a = await LineClient.connect(inProcess.port);
      await a.line();
      a.send('USER bob\r\nPASS x\r\n');
      await a.line();
      expect(await a.line()).toContain('+OK logged in');
      const b = await LineClient.connect(other.listening[0]!.port);
      await b.line();
      b.send('USER bob\r\nPASS x\r\n');
      await b.line();
      expect(await b.line()).toBe('-ERR [IN-USE] mailbox locked: another POP3 session is using it');
      a.send('QUIT\r\n');
      await a.closed;
      b.send('USER bob\r\nPASS x\r\n');
      await b.line();
      expect(await b.line()).toContain('+OK logged in');
      b.send('QUIT\r\n');
      await b.closed;
    } finally {
      await other.stop();
      await inProcess.close(500);
    }
  });
});
