/**
 * Hostile clients against the mail servers' TLS: POP3S (the implicit-TLS port) and STLS, SMTPS and
 * STARTTLS. A crowd that never finishes its handshakes must be dropped by the handshake timeout with
 * every descriptor and slot back (POP3S used to run on a tls.Server: those connections were not
 * counted against any limit and were kept for Node's 120 s); STLS must not wait for the idle
 * timeout either; a record that does not decrypt must close the connection at once (this
 * went unnoticed on POP3S, STLS and SMTPS, see core/tls-server-socket.ts), and so must a request
 * to renegotiate (refused: core/tls.ts serverTlsOptions); a POP3S download nobody reads stays bounded and ends at the idle
 * timeout; a reset in the middle of a message stores nothing and leaves nothing behind; plaintext
 * pipelined after STARTTLS is discarded; a failed SMTP handshake is traced once, in words, under its
 * connection (as POP3 and FTP trace theirs).
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { Maildir } from '../../src/mail/maildir.js';
import {
  createPop3Server,
  type Pop3ServerHandle,
  type Pop3ServerOptions,
} from '../../src/mail/pop3-server.js';
import {
  createSmtpServer,
  type SmtpServerHandle,
  type SmtpServerOptions,
} from '../../src/mail/smtp-server.js';
import { tempDir } from '../helpers/net.js';
import {
  brokenRecord,
  closesWithin,
  crowd,
  eventually,
  LineReader,
  PARTIAL_CLIENT_HELLO,
  type RawTlsClient,
  rawTlsClient,
  renegotiateUntilClosed,
  socketFds,
  socketFdsBackTo,
  startTls,
} from '../helpers/tls-hostile.js';
import { mailboxFiles } from './smtp-test-client.js';

let dataDir: string;
let cleanup: () => Promise<void>;
let material: TlsMaterial;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  ({ dir: dataDir, cleanup } = await tempDir('netkit-mail-tls-hostile-'));
  material = await loadTls(dataDir);
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => cleanup());

async function pop3(opts: Partial<Pop3ServerOptions> = {}): Promise<Pop3ServerHandle> {
  const s = await createPop3Server({
    dataDir,
    port: 0,
    tlsPort: 0,
    tls: material,
    authAcceptAny: true,
    failedLoginDelayMs: 0,
    ...opts,
  });
  closers.push(() => s.close(100));
  return s;
}

async function smtp(opts: SmtpServerOptions = {}): Promise<SmtpServerHandle> {
  const s = await createSmtpServer({ dataDir, port: 0, tlsPort: 0, ...opts });
  closers.push(() => s.close(100));
  return s;
}

/** Over implicit TLS, with a line reader on the TLS socket and the raw socket under it at hand. */
async function tlsLines(port: number, maxVersion?: 'TLSv1.2'): Promise<RawTlsClient & { lines: LineReader }> {
  const c = await rawTlsClient(port, maxVersion ? { maxVersion } : {});
  closers.push(() => c.raw.destroy());
  return Object.assign(c, { lines: new LineReader(c.secure) });
}

/** A plain connection upgraded with `command` (STLS, STARTTLS after EHLO); `ok` matches its reply. */
async function upgraded(
  port: number,
  greeting: RegExp,
  commands: string,
  ok: RegExp,
  maxVersion?: 'TLSv1.2',
): Promise<RawTlsClient & { lines: LineReader }> {
  const raw = net.connect({ port, host: '127.0.0.1' });
  raw.on('error', () => {});
  closers.push(() => raw.destroy());
  const closed = once(raw, 'close').then(() => {});
  const plain = new LineReader(raw);
  expect(await plain.next()).toMatch(greeting);
  raw.write(commands);
  await plain.until(ok);
  plain.detach();
  const secure = await startTls(raw, maxVersion ? { maxVersion } : {});
  return { raw, secure, closed, lines: new LineReader(secure) };
}

describe('POP3S and STLS: hostile clients', () => {
  it('200 clients that never finish a handshake (silent, or a cut ClientHello) count, and are dropped; descriptors and slots come back', async () => {
    const s = await pop3({ tlsHandshakeTimeoutMs: 300, maxConnections: 200, maxConnectionsPerIp: 200 });
    const baseline = socketFds();
    const { allClosed } = await crowd(s.tlsPort!, 200, (i) => (i % 2 ? PARTIAL_CLIENT_HELLO : undefined));
    // while they last they count: the plain port is full
    expect(await eventually(() => s.connections === 200)).toBe(true);
    const full = new LineReader(net.connect({ port: s.port, host: '127.0.0.1' }).on('error', () => {}));
    expect(await full.next()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
    expect(await closesWithin(allClosed, 5000)).toBe(true);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(await eventually(() => s.connections === 0)).toBe(true);
    const good = await tlsLines(s.tlsPort!);
    expect(await good.lines.next()).toBe('+OK netkit POP3 server ready');
    // plaintext POP3 on the TLS port is closed at once, without a word
    const plain = await crowd(s.tlsPort!, 1, () => Buffer.from('USER bob\r\n'));
    let said = '';
    plain.sockets[0]!.on('data', (d: Buffer) => {
      said += d.toString('latin1');
    });
    expect(await closesWithin(plain.allClosed, 250)).toBe(true);
    expect(said).not.toMatch(/OK|ERR/);
  });

  it('STLS followed by silence is dropped after the handshake timeout, not the idle timeout', async () => {
    const s = await pop3({ tlsHandshakeTimeoutMs: 300 });
    const raw = net.connect({ port: s.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    closers.push(() => raw.destroy());
    const closed = once(raw, 'close').then(() => {});
    const plain = new LineReader(raw);
    await plain.next();
    raw.write('STLS\r\n');
    expect(await plain.next()).toBe('+OK begin TLS negotiation');
    expect(await closesWithin(closed, 3000)).toBe(true);
  });

  it('a record that does not decrypt closes the connection at once, on the TLS port and after STLS', async () => {
    const s = await pop3();
    const implicit = await tlsLines(s.tlsPort!);
    await implicit.lines.next();
    implicit.raw.write(brokenRecord());
    expect(await closesWithin(implicit.closed, 3000)).toBe(true);

    const stls = await upgraded(s.port, /^\+OK/, 'STLS\r\n', /^\+OK begin TLS/);
    stls.secure.write('USER bob\r\n');
    expect(await stls.lines.next()).toBe('+OK');
    stls.raw.write(brokenRecord());
    expect(await closesWithin(stls.closed, 3000)).toBe(true);
    expect(await eventually(() => s.connections === 0)).toBe(true);
  });

  it('a TLS 1.2 client that asks to renegotiate is refused and closed at its first attempt', async () => {
    const s = await pop3();
    const c = await tlsLines(s.tlsPort!, 'TLSv1.2');
    await c.lines.next();
    const renegotiations = await renegotiateUntilClosed(c);
    expect(await closesWithin(c.closed, 3000)).toBe(true);
    expect(renegotiations).toBe(0);
  });

  it('a RETR nobody reads stays bounded and the link ends at the idle timeout', async () => {
    const size = 32 * 1024 * 1024;
    await Maildir.open(dataDir, 'big').deliver(Buffer.alloc(size, 'x'));
    const s = await pop3({ idleTimeoutMs: 300 });
    const c = await tlsLines(s.tlsPort!);
    await c.lines.next();
    c.secure.write('USER big\r\nPASS x\r\n');
    await c.lines.until(/logged in/);
    const ended = once(s, 'end');
    c.secure.write('RETR 1\r\n');
    await once(c.secure, 'readable');
    // read nothing more: the session waits for 'drain'; the idle timer ends the link
    c.lines.detach();
    c.secure.pause();
    await ended;
    let got = c.secure.readableLength;
    c.secure.on('data', (d: Buffer) => {
      got += d.length;
    });
    c.secure.resume();
    expect(await closesWithin(c.closed, 8000)).toBe(true);
    // what the kernels and the session's queue held, far from the whole message
    expect(got).toBeLessThan(size / 2);
  });
});

describe('SMTPS and STARTTLS: hostile clients', () => {
  it('200 clients that never finish a handshake (silent, a cut ClientHello, plaintext SMTP) are dropped; descriptors come back', async () => {
    const s = await smtp({ tlsHandshakeTimeoutMs: 300, maxClients: 200, maxClientsPerIp: 200 });
    const baseline = socketFds();
    const { allClosed } = await crowd(s.tlsPort!, 200, (i) =>
      i % 3 === 0 ? undefined : i % 3 === 1 ? PARTIAL_CLIENT_HELLO : Buffer.from('EHLO x\r\n'),
    );
    expect(await closesWithin(allClosed, 5000)).toBe(true);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    const good = await tlsLines(s.tlsPort!);
    expect(await good.lines.next()).toMatch(/^220 /);
  });

  it('a handshake left silent is dropped after the handshake timeout, not the idle timeout, on the TLS port and after STARTTLS; a session past its handshake stays', async () => {
    const s = await smtp({ tlsHandshakeTimeoutMs: 300 }); // idle timeout: 60 s
    const established = await tlsLines(s.tlsPort!);
    expect(await established.lines.next()).toMatch(/^220 /);
    const silent = net.connect({ port: s.tlsPort!, host: '127.0.0.1' }).on('error', () => {});
    closers.push(() => silent.destroy());
    const silentClosed = once(silent, 'close').then(() => {});
    const raw = net.connect({ port: s.port, host: '127.0.0.1' }).on('error', () => {});
    closers.push(() => raw.destroy());
    const starttlsClosed = once(raw, 'close').then(() => {});
    const plain = new LineReader(raw);
    expect(await plain.next()).toMatch(/^220 /);
    raw.write('EHLO client.test\r\nSTARTTLS\r\n');
    await plain.until(/^220 /);
    expect(await closesWithin(silentClosed, 3000)).toBe(true);
    expect(await closesWithin(starttlsClosed, 3000)).toBe(true);
    // the session whose handshake was done in time is served after both deadlines passed
    established.secure.write('NOOP\r\n');
    expect(await established.lines.next()).toMatch(/^250 /);
    expect(await eventually(() => s.connections === 1)).toBe(true);
  });

  it('a record that does not decrypt closes the connection at once, on the TLS port and after STARTTLS', async () => {
    const s = await smtp(); // idle timeout: 60 s
    const implicit = await tlsLines(s.tlsPort!);
    await implicit.lines.next();
    implicit.secure.write('EHLO client.test\r\n');
    await implicit.lines.until(/^250 /);
    implicit.raw.write(brokenRecord());
    expect(await closesWithin(implicit.closed, 3000)).toBe(true);

    const starttls = await upgraded(s.port, /^220 /, 'EHLO client.test\r\nSTARTTLS\r\n', /^220 /);
    starttls.secure.write('EHLO client.test\r\n');
    await starttls.lines.until(/^250 /);
    starttls.raw.write(brokenRecord());
    expect(await closesWithin(starttls.closed, 3000)).toBe(true);
    expect(await eventually(() => s.connections === 0)).toBe(true);
  });

  it('renegotiation is refused and closes the connection, on the TLS port and after STARTTLS', async () => {
    const s = await smtp();
    const implicit = await tlsLines(s.tlsPort!, 'TLSv1.2');
    await implicit.lines.next();
    expect(await renegotiateUntilClosed(implicit)).toBe(0);
    expect(await closesWithin(implicit.closed, 3000)).toBe(true);

    const starttls = await upgraded(s.port, /^220 /, 'EHLO client.test\r\nSTARTTLS\r\n', /^220 /, 'TLSv1.2');
    expect(await renegotiateUntilClosed(starttls)).toBe(0);
    expect(await closesWithin(starttls.closed, 3000)).toBe(true);
  });

  it('a reset in the middle of DATA over TLS stores nothing and leaves nothing behind', async () => {
    const s = await smtp();
    const baseline = socketFds();
    const c = await tlsLines(s.tlsPort!);
    await c.lines.next();
    c.secure.write('EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<reset@lab.test>\r\nDATA\r\n');
    await c.lines.until(/^354 /);
    c.secure.write(`Subject: cut\r\n\r\n${'x'.repeat(100_000)}`);
    c.raw.resetAndDestroy();
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(await eventually(() => s.connections === 0)).toBe(true);
    expect(await mailboxFiles(dataDir, 'reset')).toEqual([]);
    expect(await mailboxFiles(dataDir, 'reset', 'tmp')).toEqual([]);
  });

  it('a failed handshake is traced as POP3 and FTP trace one: once, in words, under the connection and its peer', async () => {
    const s = await smtp({ tlsHandshakeTimeoutMs: 300 });
    const traces: TraceEvent[] = [];
    s.on('trace', (t) => traces.push(t));
    /** a client on the SMTPS port, or one past STARTTLS, that sends `bytes` (or nothing) instead of a ClientHello */
    const client = async (starttls: boolean, bytes?: string): Promise<string> => {
      const raw = net.connect({ port: starttls ? s.port : s.tlsPort!, host: '127.0.0.1' });
      raw.on('error', () => {});
      closers.push(() => raw.destroy());
      const closed = once(raw, 'close').then(() => {});
      await once(raw, 'connect');
      const peer = `127.0.0.1:${raw.localPort}`;
      if (starttls) {
        const plain = new LineReader(raw);
        expect(await plain.next()).toMatch(/^220 /);
        raw.write('EHLO client.test\r\nSTARTTLS\r\n');
        await plain.until(/^220 /);
        plain.detach();
      }
      raw.resume();
      if (bytes !== undefined) raw.write(bytes);
      expect(await closesWithin(closed, 3000)).toBe(true);
      return peer;
    };
    const peers = [
      await client(false, 'EHLO client.test\r\n\r\n'),
      await client(true, 'MAIL FROM:<a@example.org>\r\n\r\n'),
      await client(false),
      await client(true),
    ];
    expect(
      await eventually(
        () => s.connections === 0 && traces.filter((t) => t.kind === 'disconnect').length === 4,
      ),
    ).toBe(true);
    const story = (peer: string) => {
      const conn = traces.find((t) => t.kind === 'connect' && t.peer === peer)?.conn;
      return traces
        .filter((t) => t.conn === conn && ['connect', 'error', 'disconnect'].includes(t.kind))
        .map((t) => (t.kind === 'error' ? t.text : t.kind));
    };
    const garbage = 'TLS handshake failed: wrong version number (not a TLS client?)';
    const silent = 'TLS handshake failed: no TLS handshake within 300 ms';
    expect(peers.map(story)).toEqual([
      ['connect', garbage, 'disconnect'],
      ['connect', garbage, 'disconnect'],
      ['connect', silent, 'disconnect'],
      ['connect', silent, 'disconnect'],
    ]);
    expect(traces.filter((t) => t.kind === 'error' || t.conn === 0)).toHaveLength(4);
  });

  it('plaintext pipelined after STARTTLS is discarded, not run inside the TLS session', async () => {
    const s = await smtp();
    const c = await upgraded(
      s.port,
      /^220 /,
      'EHLO client.test\r\nSTARTTLS\r\nMAIL FROM:<in@jected>\r\n',
      /^220 /,
    );
    // the first reply inside TLS answers our EHLO: the MAIL sent in the clear was never run (it
    // would have been refused, 503, without an EHLO inside TLS)
    c.secure.write('EHLO client.test\r\n');
    expect(await c.lines.until(/^\d{3} /)).toMatch(/^250 /);
    c.secure.write('MAIL FROM:<real@example.org>\r\n');
    expect(await c.lines.next()).toMatch(/^250 /);
  });
});
