/**
 * `netkit smtp serve` as users run it: the built CLI as a child process (--json listening lines,
 * stored-message lines, --trace, exit codes), accounts made with `netkit user add`, and the
 * durability promise under SIGKILL: every message that got its 250 is complete on disk.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient, netkit, run, startServe, tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-smtp-cli-'));
});
afterAll(async () => {
  await cleanup();
});

describe('netkit smtp serve', () => {
  it('--help shows examples; bad flags are usage errors (exit 2)', async () => {
    const help = await netkit(['smtp', 'serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--tls-port');
    expect((await netkit(['smtp', 'serve', '--max-size', 'lots'])).code).toBe(2);
    expect((await netkit(['smtp', 'serve', '--min-free-space', 'plenty'])).code).toBe(2);
    expect(help.stdout).toMatch(/--min-free-space <size>[\s\S]*452\s+4\.3\.1/);
    expect((await netkit(['smtp', 'serve', '--port', '70000'])).code).toBe(2);
    const noTls = await netkit([
      'smtp',
      'serve',
      '--port',
      '0',
      '--tls-port',
      '0',
      '--no-tls',
      '--data',
      dir,
    ]);
    expect(noTls.code).toBe(2);
    expect(noTls.stderr).toMatch(/^netkit: --tls-port needs TLS/);
  });

  it('--json announces both sockets, logs stored messages, --trace redacts AUTH, SIGTERM exits 0', async () => {
    const data = path.join(dir, 'json');
    const srv = await startServe(
      ['smtp', 'serve', '--port', '0', '--tls-port', '0', '--data', data, '--auth-accept-any', '--trace'],
      2,
    );
    let stderr = '';
    srv.child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    const lines: string[] = [];
    srv.child.stdout!.on('data', (d) => lines.push(...d.toString().trim().split('\n')));
    try {
      expect(srv.listening.map((l) => [l.service, l.tls])).toEqual([
        ['smtp', false],
        ['smtp', true],
      ]);
      expect(srv.listening[0]!.host).toBe('127.0.0.1');
      const r = await run('swaks', [
        '--server',
        `127.0.0.1:${srv.listening[0]!.port}`,
        '--to',
        'cli@lab.test',
        '--from',
        'me@example.org',
        '--auth',
        'PLAIN',
        '--auth-user',
        'me',
        '--auth-password',
        'sekrit-pw',
      ]);
      expect(r.code).toBe(0);
      const record = await new Promise<Record<string, unknown>>((resolve) => {
        const check = () => {
          const l = lines.find((x) => x.includes('"event":"message"'));
          if (l) resolve(JSON.parse(l));
          else srv.child.stdout!.once('data', () => setImmediate(check));
        };
        check();
      });
      expect(record).toMatchObject({ event: 'message', mailbox: 'cli', from: 'me@example.org', user: 'me' });
      const files = await readdir(path.join(data, 'mail', 'cli', 'new'));
      expect(files).toEqual([record.id]);
    } finally {
      const exited = new Promise<number | null>((r) => srv.child.once('exit', (code) => r(code)));
      srv.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(stderr).toMatch(/\[smtp#\d+\] C: AUTH PLAIN \*\*\*\*/);
    expect(stderr).toMatch(/\[smtp#\d+\] S: 235 2\.7\.0 /);
    expect(stderr).not.toContain(Buffer.from('\0me\0sekrit-pw').toString('base64'));
  });

  it('--bare-newlines takes the US spelling "normalize" too: a bare LF is stored as CRLF', async () => {
    const data = path.join(dir, 'normalize');
    const srv = await startServe([
      'smtp',
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--bare-newlines',
      'normalize',
    ]);
    try {
      const c = await LineClient.connect(srv.listening[0]!.port);
      await c.until(/^220 /);
      c.send('EHLO t\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<nl@lab.test>\r\nDATA\r\n');
      await c.until(/^354 /);
      c.send('Subject: lf\r\n\r\none\ntwo\r\n.\r\n');
      expect(await c.line()).toMatch(/^250 2\.6\.0 /);
      c.close();
      const [file] = await readdir(path.join(data, 'mail', 'nl', 'new'));
      expect(await readFile(path.join(data, 'mail', 'nl', 'new', file!), 'latin1')).toMatch(
        /\r\none\r\ntwo\r\n$/,
      );
    } finally {
      await srv.stop();
    }
  });

  it('--strict --require-auth with an account made by `netkit user add`', async () => {
    const data = path.join(dir, 'strict');
    const add = await netkit(['user', 'add', 'bob', '--password', 'hunter2', '--data', data]);
    expect(add.code).toBe(0);
    const srv = await startServe([
      'smtp',
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--strict',
      '--require-auth',
    ]);
    try {
      const r = await run('python3', [
        '-c',
        String.raw`
import json, smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
out = {}
try:
    s.sendmail('a@b.test', ['bob@lab.test'], b'Subject: x\r\n\r\nx\r\n')
except smtplib.SMTPSenderRefused as e:
    out['noauth'] = e.smtp_code
s.login('bob', 'hunter2')
refused = s.sendmail('bob@lab.test', ['bob@lab.test', 'nobody@lab.test'], b'Subject: y\r\n\r\ny\r\n')
out['refused'] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
s.quit()
print(json.dumps(out))
`,
        String(srv.listening[0]!.port),
      ]);
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out.noauth).toBe(530);
      expect(Object.keys(out.refused)).toEqual(['nobody@lab.test']);
      expect(out.refused['nobody@lab.test'][0]).toBe(550);
      expect(await readdir(path.join(data, 'mail', 'bob', 'new'))).toHaveLength(1);
    } finally {
      await srv.stop();
    }
  });
});

/**
 * Four Python senders push messages as fast as they can and print `ACK <n>` the moment each 250
 * arrives; after 40 acknowledgements the server gets SIGKILL. Every acknowledged message must then
 * be in new/, complete (its END marker is the last line), and no file in new/ may be partial.
 */
const LOAD = String.raw`
import smtplib, sys, threading
port, total = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
counter = [0]
body = ('x' * 76 + '\r\n') * 250
def sender(t):
    try:
        s = smtplib.SMTP('127.0.0.1', port, timeout=10)
        while True:
            with lock:
                n = counter[0]
                counter[0] += 1
            if n >= total:
                break
            msg = ('Subject: load %d\r\nMessage-ID: <load-%d@test>\r\n\r\nBEGIN-%d\r\n%sEND-%d\r\n' % (n, n, n, body, n)).encode()
            s.sendmail('load@example.org', ['load@lab.test'], msg)
            with lock:
                print('ACK %d' % n, flush=True)
    except Exception as e:
        with lock:
            print('STOP %s' % type(e).__name__, flush=True)
threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
`;

describe('durability under SIGKILL', () => {
  it('every message that got 250 is complete on disk after kill -9 mid-load', async () => {
    const data = path.join(dir, 'kill');
    const srv = await startServe(['smtp', 'serve', '--port', '0', '--data', data, '--no-tls', '--quiet']);
    const acked = new Set<number>();
    const load = spawn('python3', ['-c', LOAD, String(srv.listening[0]!.port), '100000']);
    let killed = false;
    const loadDone = new Promise<void>((resolve) => load.once('exit', () => resolve()));
    let buf = '';
    load.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^ACK (\d+)$/.exec(line);
        if (m) acked.add(Number(m[1]));
        if (!killed && acked.size >= 40) {
          killed = true;
          srv.child.kill('SIGKILL');
        }
        i = buf.indexOf('\n');
      }
    });
    await loadDone;
    expect(killed).toBe(true);
    expect(srv.child.signalCode ?? (await new Promise((r) => srv.child.once('exit', (_c, s) => r(s))))).toBe(
      'SIGKILL',
    );
    const folder = path.join(data, 'mail', 'load', 'new');
    const files = await readdir(folder);
    const stored = new Map<number, string>();
    for (const f of files) {
      const text = await readFile(path.join(folder, f), 'utf8');
      const n = Number(/BEGIN-(\d+)/.exec(text)?.[1]);
      // no partial file ever appears in new/
      expect(text.endsWith(`END-${n}\r\n`)).toBe(true);
      expect(text).toMatch(/^Return-Path: <load@example\.org>\r\nDelivered-To: [^\r\n]+\r\nReceived: /);
      stored.set(n, text);
    }
    for (const n of acked) expect(stored.has(n), `acknowledged message ${n} is on disk`).toBe(true);
    // at most the in-flight messages (4 senders) were stored without their 250 reaching the client
    expect(stored.size - acked.size).toBeLessThanOrEqual(4);
  });
});
