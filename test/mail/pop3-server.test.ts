/**
 * The POP3 server over real loopback sockets: pipelining, exact octet counts, streaming of large
 * messages, STLS (with an injection attempt), implicit TLS, locking, limits, shutdown, trace.
 */
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { Maildir } from '../../src/mail/maildir.js';
import { encodeSaslPlain } from '../../src/mail/pop3-auth.js';
import {
  createPop3Server,
  type Pop3ServerHandle,
  type Pop3ServerOptions,
} from '../../src/mail/pop3-server.js';
import { LineClient, tempDir } from '../helpers/net.js';

let dataDir: string;
let cleanup: () => Promise<void>;
let material: TlsMaterial;
const servers: Pop3ServerHandle[] = [];

beforeAll(async () => {
  ({ dir: dataDir, cleanup } = await tempDir());
  material = await loadTls(dataDir);
  const accounts = new AccountStore(dataDir);
  await accounts.add('bob', 's3cret');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});
afterAll(() => cleanup());

async function start(opts: Partial<Pop3ServerOptions> = {}): Promise<Pop3ServerHandle> {
  const server = await createPop3Server({
    dataDir,
    port: 0,
    tls: material,
    failedLoginDelayMs: 0,
    ...opts,
  });
  servers.push(server);
  return server;
}

async function fill(mailbox: string, messages: Array<string | Buffer>): Promise<Maildir> {
  const md = Maildir.open(dataDir, mailbox);
  for (const m of messages) await md.deliver(Buffer.isBuffer(m) ? m : Buffer.from(m, 'latin1'));
  return md;
}

/** A raw byte client: the whole conversation as one latin1 string. */
class RawClient {
  data = '';
  private waiters: Array<() => void> = [];
  closed: Promise<void>;
  constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.data += d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }
  static async connect(port: number): Promise<RawClient> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new RawClient(s);
  }
  /** Wait until the received text satisfies `test`. */
  async until(test: (data: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.data)) {
      if (Date.now() > deadline) throw new Error(`timeout; received so far: ${this.data.slice(-300)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.data;
  }
  count(needle: string): number {
    return this.data.split(needle).length - 1;
  }
}

async function login(c: LineClient, user = 'bob', pass = 's3cret'): Promise<string> {
  c.send(`USER ${user}\r\nPASS ${pass}\r\n`);
  expect(await c.line()).toBe('+OK');
  return c.line();
}

describe('POP3 server over TCP', () => {
  it('answers a whole pipelined session in order, with exact octet counts', async () => {
    const messages = [
      'From: a@x\r\nSubject: one\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n',
      'From: b@x\r\nSubject: two\n\nbare LF body\n.x\n',
      'From: c@x\r\nSubject: three\r\n\r\nno final line end',
    ];
    await fill('pipe', messages);
    const server = await start({ authAcceptAny: true });
    const c = await RawClient.connect(server.port);
    c.socket.write(
      [
        'USER pipe',
        'PASS x',
        'STAT',
        'LIST',
        'UIDL',
        'RETR 1',
        'RETR 2',
        'RETR 3',
        'TOP 1 1',
        'NOOP',
        'QUIT',
        '',
      ].join('\r\n'),
    );
    await c.closed;
    const text = c.data;
    const list = /\+OK 3 messages \((\d+) octets\)\r\n1 (\d+)\r\n2 (\d+)\r\n3 (\d+)\r\n\.\r\n/.exec(text);
    expect(list).not.toBeNull();
    const sizes = list!.slice(2).map(Number);
    // each RETR body, un-stuffed, is exactly as long as LIST said
    const retrs = [...text.matchAll(/\+OK (\d+) octets\r\n([\s\S]*?)\r\n\.\r\n/g)];
    expect(retrs).toHaveLength(3);
    retrs.forEach((m, i) => {
      const content = `${m[2]}\r\n`.replace(/^\./gm, '');
      expect(Number(m[1])).toBe(sizes[i]);
      expect(content.length).toBe(sizes[i]);
      expect(content).toBe(messages[i]!.replace(/(?<!\r)\n/g, '\r\n').replace(/([^\n])$/, '$1\r\n'));
    });
    expect(text).toContain('\r\n..leading dot\r\n...two dots\r\n');
    expect(text).toContain('+OK top of message follows\r\nFrom: a@x\r\nSubject: one\r\n\r\nhello\r\n.\r\n');
    expect(text.endsWith('+OK\r\n+OK netkit POP3 server signing off (0 messages deleted)\r\n')).toBe(true);
  });

  it('streams large messages (over the in-memory limit) with the same octet count', async () => {
    // 2 MiB of bare-LF lines, some dot-led: converted and stuffed chunk by chunk
    const line = (i: number) => `${i % 7 === 0 ? '.' : ''}line ${i} ${'x'.repeat(60)}\n`;
    let big = 'Subject: big\n\n';
    for (let i = 0; big.length < 2 * 1024 * 1024; i++) big += line(i);
    const md = await fill('big', [big]);
    const server = await start({ authAcceptAny: true });
    const c = await RawClient.connect(server.port);
    c.socket.write('USER big\r\nPASS x\r\nLIST 1\r\nRETR 1\r\nTOP 1 2\r\nQUIT\r\n');
    await c.closed;
    const size = Number(/\+OK 1 (\d+)\r\n/.exec(c.data)![1]);
    const expected = big.replace(/\n/g, '\r\n');
    expect(size).toBe(expected.length);
    const m = /\+OK (\d+) octets\r\n([\s\S]*?)\r\n\.\r\n/.exec(c.data)!;
    expect(Number(m[1])).toBe(size);
    expect(`${m[2]}\r\n`.replace(/^\./gm, '')).toBe(expected);
    expect(c.data).toContain(
      `+OK top of message follows\r\nSubject: big\r\n\r\n.${line(0).trimEnd()}\r\n${line(1).trimEnd()}\r\n.\r\n`,
    );
    expect((await md.list())[0]!.folder).toBe('cur');
  });

  it('answers hundreds of pipelined RETRs sent in one write', async () => {
    const n = 300;
    await fill(
      'many',
      Array.from({ length: n }, (_, i) => `Subject: ${i}\r\n\r\n${`body ${i}\r\n`.repeat(50)}`),
    );
    const server = await start({ authAcceptAny: true, markSeen: false });
    const c = await RawClient.connect(server.port);
    let cmds = 'USER many\r\nPASS x\r\n';
    for (let i = 1; i <= n; i++) cmds += `RETR ${i}\r\n`;
    c.socket.write(cmds);
    await c.until(() => c.count('\r\n.\r\n') >= n);
    expect(c.count('octets\r\nSubject: ')).toBe(n);
    expect(c.data).toContain(`Subject: ${n - 1}\r\n`);
    c.socket.write('QUIT\r\n');
    await c.closed;
  });

  it('logs in with AUTH PLAIN, traces no secret, and emits the dashboard events', async () => {
    await fill('bob', ['Subject: hi\r\n\r\nhello\r\n']);
    const server = await start();
    const trace: TraceEvent[] = [];
    const events: Array<[string, unknown]> = [];
    server.on('trace', (e: TraceEvent) => trace.push(e));
    for (const name of ['login', 'auth-failed', 'retr', 'dele', 'quit', 'end']) {
      server.on(name, (e) => events.push([name, e]));
    }
    const c = await LineClient.connect(server.port);
    expect(await c.line()).toBe('+OK netkit POP3 server ready');
    c.send('USER bob\r\nPASS wrong-secret\r\n');
    expect(await c.line()).toBe('+OK');
    expect(await c.line()).toBe('-ERR [AUTH] authentication failed');
    c.send('AUTH PLAIN\r\n');
    expect(await c.line()).toBe('+ ');
    c.send(`${encodeSaslPlain('bob', 's3cret')}\r\n`);
    expect(await c.line()).toMatch(/^\+OK logged in: mailbox bob has \d+ message/);
    c.send('RETR 1\r\nDELE 1\r\nRSET\r\nQUIT\r\n');
    await c.until(/signing off/);
    await once(server, 'end');
    const text = trace.map((e) => e.text).join('\n');
    expect(text).not.toContain('wrong-secret');
    expect(text).not.toContain(encodeSaslPlain('bob', 's3cret'));
    expect(text).toContain('PASS ****');
    expect(trace.filter((e) => e.kind === 'in' && e.text === '****')).toHaveLength(1);
    expect(events.map(([n]) => n)).toEqual(['auth-failed', 'login', 'retr', 'dele', 'quit', 'end']);
    expect(events[1]![1]).toMatchObject({ mailbox: 'bob', mechanism: 'PLAIN', secure: false });
    expect(events[5]![1]).toMatchObject({ mailbox: 'bob', quit: true });
  });

  it('STLS discards pipelined plaintext, then allows login over TLS', async () => {
    const server = await start({ authAcceptAny: true });
    const raw = net.connect(server.port, '127.0.0.1');
    const c = new LineClientish(raw);
    expect(await c.line()).toBe('+OK netkit POP3 server ready');
    // the injected USER must not survive the upgrade
    raw.write('STLS\r\nUSER injected\r\n');
    expect(await c.line()).toBe('+OK begin TLS negotiation');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    const t = new LineClientish(secure);
    secure.write('PASS x\r\n');
    expect(await t.line()).toBe('-ERR no user name given: send USER first');
    secure.write('CAPA\r\n');
    const caps = await t.lines('.');
    expect(caps).not.toContain('STLS');
    expect(caps).toContain('USER');
    secure.write('USER tls-user\r\nPASS x\r\n');
    expect(await t.line()).toBe('+OK');
    expect(await t.line()).toContain('+OK logged in');
    secure.end('QUIT\r\n');
    expect(await t.line()).toContain('signing off');
  });

  it('closes a client that hangs up after STLS instead of the handshake, and frees its slot', async () => {
    const server = await start({ maxConnections: 1 });
    const raw = net.connect(server.port, '127.0.0.1');
    const c = new LineClientish(raw);
    expect(await c.line()).toBe('+OK netkit POP3 server ready');
    raw.write('STLS\r\n');
    expect(await c.line()).toBe('+OK begin TLS negotiation');
    const ended = once(server, 'end');
    const closed = once(raw, 'close');
    raw.end();
    // before the fix the socket stayed in CLOSE-WAIT, no 'end' event, the slot taken until idle timeout
    expect((await ended)[0]).toMatchObject({ quit: false });
    await closed;
    const next = await LineClient.connect(server.port);
    expect(await next.line()).toBe('+OK netkit POP3 server ready');
    next.close();
  });

  it('serves implicit TLS on the TLS port', async () => {
    await fill('tlsbox', ['Subject: secure\r\n\r\nover tls\r\n']);
    const server = await start({ authAcceptAny: true, tlsPort: 0 });
    expect(server.tlsPort).toBeGreaterThan(0);
    const s = tls.connect({ port: server.tlsPort!, host: '127.0.0.1', rejectUnauthorized: false });
    const c = new LineClientish(s);
    expect(await c.line()).toBe('+OK netkit POP3 server ready');
    s.write('CAPA\r\n');
    expect(await c.lines('.')).not.toContain('STLS');
    s.write('USER tlsbox\r\nPASS x\r\nRETR 1\r\n');
    await c.line();
    expect(await c.line()).toContain('+OK logged in');
    expect(await c.line()).toMatch(/^\+OK \d+ octets$/);
    expect(await c.lines('.')).toEqual(['Subject: secure', '', 'over tls']);
    s.end('QUIT\r\n');
    await once(s, 'close');
  });

  it('a dropped session deletes nothing and releases the lock', async () => {
    const md = await fill('drop', ['Subject: 1\r\n\r\na\r\n', 'Subject: 2\r\n\r\nb\r\n']);
    const server = await start({ authAcceptAny: true });
    const c = await LineClient.connect(server.port);
    await c.line();
    expect(await login(c, 'drop')).toContain('+OK logged in');
    c.send('DELE 1\r\nDELE 2\r\n');
    expect(await c.line()).toBe('+OK message 1 deleted');
    expect(await c.line()).toBe('+OK message 2 deleted');
    const ended = once(server, 'end');
    c.close();
    expect((await ended)[0]).toMatchObject({ mailbox: 'drop', quit: false });
    expect(await md.list()).toHaveLength(2);
    const again = await LineClient.connect(server.port);
    await again.line();
    expect(await login(again, 'drop')).toContain('has 2 messages');
    again.close();
  });

  it('gives a second session on the same mailbox -ERR [IN-USE]', async () => {
    await fill('busy', ['Subject: 1\r\n\r\na\r\n']);
    const server = await start({ authAcceptAny: true });
    const a = await LineClient.connect(server.port);
    await a.line();
    expect(await login(a, 'busy')).toContain('+OK logged in');
    const b = await LineClient.connect(server.port);
    await b.line();
    expect(await login(b, 'busy')).toBe('-ERR [IN-USE] mailbox locked: another POP3 session is using it');
    // still in AUTHORIZATION: another mailbox works
    expect(await login(b, 'other')).toContain('+OK logged in');
    a.send('QUIT\r\n');
    await a.until(/signing off/);
    b.close();
  });

  it('rejects bad input and closes after too many bad commands', async () => {
    const server = await start({ authAcceptAny: true });
    const c = await LineClient.connect(server.port);
    await c.line();
    c.send('STAT\r\n');
    expect(await c.line()).toBe('-ERR STAT is not valid before login');
    c.send(`USER ${'x'.repeat(5000)}\r\n`);
    expect(await c.line()).toBe('-ERR line too long');
    c.socket.write(Buffer.from([0xff, 0xfe, 0x80, 0x00, 0x41, 0x0d, 0x0a]));
    expect(await c.line()).toBe('-ERR unknown command');
    c.send('GET / HTTP/1.1\r\n');
    expect(await c.line()).toBe('-ERR unknown command: GET');
    // the session is still usable
    c.send('CAPA\r\n');
    expect(await c.line()).toBe('+OK capability list follows');
    await c.until(/^\.$/);
    for (let i = 0; i < 6; i++) c.send(`BOGUS${i}\r\n`);
    for (let i = 0; i < 6; i++) expect(await c.line()).toBe(`-ERR unknown command: BOGUS${i}`);
    expect(await c.line()).toBe('-ERR too many bad commands, closing connection');
    await c.closed;
  });

  it('waits before answering a failed login', async () => {
    const server = await start({ failedLoginDelayMs: 300 });
    const c = await LineClient.connect(server.port);
    await c.line();
    const t0 = Date.now();
    c.send('USER bob\r\nPASS bad\r\n');
    await c.line();
    expect(await c.line()).toBe('-ERR [AUTH] authentication failed');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    c.close();
  });

  it('logs out idle clients without UPDATE', async () => {
    const md = await fill('idle', ['Subject: 1\r\n\r\na\r\n']);
    const server = await start({ authAcceptAny: true, idleTimeoutMs: 300 });
    const c = await LineClient.connect(server.port);
    await c.line();
    await login(c, 'idle');
    c.send('DELE 1\r\n');
    await c.line();
    expect(await c.line(5000)).toBe('-ERR autologout: idle for too long');
    await c.closed;
    expect(await md.list()).toHaveLength(1);
  });

  it('refuses connections over the limit', async () => {
    const server = await start({ maxConnections: 1 });
    const a = await LineClient.connect(server.port);
    expect(await a.line()).toBe('+OK netkit POP3 server ready');
    const b = await LineClient.connect(server.port);
    expect(await b.line()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
    await b.closed;
    a.close();
  });

  it('counts the plain and the TLS port together against the limits', async () => {
    const server = await start({ maxConnections: 1, tlsPort: 0 });
    const a = await LineClient.connect(server.port);
    expect(await a.line()).toBe('+OK netkit POP3 server ready');
    // the TLS port is over the shared limit: it closes at once, before any handshake (there is
    // no TLS session yet to carry the busy reply, and shaking hands with a client we refuse
    // would spend the CPU the limit protects)
    const s = tls.connect({ port: server.tlsPort!, host: '127.0.0.1', rejectUnauthorized: false });
    s.on('error', () => {});
    let secured = false;
    s.once('secureConnect', () => {
      secured = true;
    });
    await new Promise((resolve) => s.once('close', resolve));
    expect(secured).toBe(false);
    // and the plain port answers in words
    const b = await LineClient.connect(server.port);
    expect(await b.line()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
    a.close();
    await a.closed;
    // the server frees the slot once it has seen the client go (a condition, not a fixed sleep)
    while (server.connections > 0) await new Promise((r) => setTimeout(r, 5));
    const again = tls.connect({ port: server.tlsPort!, host: '127.0.0.1', rejectUnauthorized: false });
    const d = new LineClientish(again);
    expect(await d.line()).toBe('+OK netkit POP3 server ready');
    again.destroy();
  });

  it('close() ends sessions with [SYS/TEMP] and applies no deletions', async () => {
    const md = await fill('shut', ['Subject: 1\r\n\r\na\r\n']);
    const server = await createPop3Server({ dataDir, port: 0, tls: false, authAcceptAny: true });
    const c = await LineClient.connect(server.port);
    await c.line();
    await login(c, 'shut');
    c.send('DELE 1\r\n');
    await c.line();
    await server.close(2000);
    expect(await c.line()).toBe('-ERR [SYS/TEMP] server shutting down');
    await c.closed;
    expect(await md.list()).toHaveLength(1);
    expect(await readdir(path.join(md.dir))).not.toContain('netkit-pop3.lock');
  });
});

/** LineClient over any stream (TLS sockets included). */
class LineClientish {
  private buf = '';
  private queue: string[] = [];
  private waiters: Array<(l: string) => void> = [];
  constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\r\n'); i !== -1; i = this.buf.indexOf('\r\n')) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        const w = this.waiters.shift();
        if (w) w(l);
        else this.queue.push(l);
      }
    });
    socket.on('error', () => {});
  }
  line(timeoutMs = 5000): Promise<string> {
    const l = this.queue.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no line')), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
  /** Lines up to (not including) `end`, skipping a leading status line that starts with +OK. */
  async lines(end: string): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === end) return out;
      if (out.length === 0 && l.startsWith('+OK')) continue;
      out.push(l.startsWith('.') ? l.slice(1) : l);
    }
  }
}
