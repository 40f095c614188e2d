/**
 * Hostile clients on the implicit-TLS listeners of the sockets area: the chat's TLS port and
 * `tcpListen({tls})` (`tcp listen --tls`). A crowd that never finishes its handshakes (silent, or a
 * ClientHello cut short) must be dropped by the handshake timeout with every descriptor and
 * connection slot back; a record that does not decrypt after the handshake must close that
 * connection at once (it used to go unnoticed: the server TLS sockets are made without a
 * tls.Server, see core/tls-server-socket.ts), and so must a request to renegotiate (refused); a reset in the middle of a
 * line must leave nothing behind.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import {
  type ChatLeaveEvent,
  type ChatServer,
  type ChatServerOptions,
  createChatServer,
} from '../../src/sockets/chat-server.js';
import { type TcpListener, type TcpTlsErrorInfo, tcpListen } from '../../src/sockets/tcp.js';
import { LineClient, tempDir } from '../helpers/net.js';
import {
  brokenRecord,
  closesWithin,
  crowd,
  eventually,
  PARTIAL_CLIENT_HELLO,
  type RawTlsClient,
  rawTlsClient,
  renegotiateUntilClosed,
  socketFds,
  socketFdsBackTo,
} from '../helpers/tls-hostile.js';

let material: TlsMaterial;
let cleanupDir: () => Promise<void>;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  const { dir, cleanup } = await tempDir('netkit-sockets-tls-hostile-');
  cleanupDir = cleanup;
  material = await loadTls(dir);
});
afterAll(() => cleanupDir());
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function chat(opts: ChatServerOptions = {}): Promise<ChatServer> {
  const s = await createChatServer({ rateLimit: { perSecond: 0 }, tls: material, tlsPort: 0, ...opts });
  closers.push(() => s.close(200));
  return s;
}

async function tlsClient(port: number, maxVersion?: 'TLSv1.2'): Promise<RawTlsClient> {
  const c = await rawTlsClient(port, maxVersion ? { maxVersion } : {});
  closers.push(() => c.raw.destroy());
  return c;
}

/** Resolves with what `socket` received from now on, once it matches `re`. */
function received(c: RawTlsClient, re: RegExp): Promise<string> {
  let text = '';
  return new Promise((resolve) => {
    const on = (d: Buffer) => {
      text += d.toString('utf8');
      if (!re.test(text)) return;
      c.secure.off('data', on);
      resolve(text);
    };
    c.secure.on('data', on);
  });
}

/** A chat client over TLS that has joined the lobby (whatever it receives later is read and dropped). */
async function joined(port: number, maxVersion?: 'TLSv1.2'): Promise<RawTlsClient> {
  const c = await tlsClient(port, maxVersion);
  await received(c, /You joined #/);
  c.secure.resume();
  return c;
}

function nextLeave(s: ChatServer): Promise<ChatLeaveEvent> {
  return once(s, 'leave').then(([e]) => e as ChatLeaveEvent);
}

describe('chat TLS port: hostile clients', () => {
  it('200 clients that never finish a handshake (silent or a cut ClientHello) are all dropped; descriptors and slots come back', async () => {
    const s = await chat({ tlsHandshakeTimeoutMs: 300, maxClients: 200, maxClientsPerIp: 200 });
    let accepted = 0;
    s.on('trace', (e: TraceEvent) => e.kind === 'connect' && accepted++);
    const baseline = socketFds();
    const first = await crowd(s.tlsPort!, 200, (i) => (i % 2 ? PARTIAL_CLIENT_HELLO : undefined));
    expect(await closesWithin(first.allClosed, 5000)).toBe(true);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(accepted).toBe(200);
    // maxClients is 200: a second crowd is accepted whole only if every slot was given back (the
    // chat traces a connection it accepts; one over the limit is closed without a word)
    const second = await crowd(s.tlsPort!, 200);
    expect(await closesWithin(second.allClosed, 5000)).toBe(true);
    expect(accepted).toBe(400);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(s.clients).toBe(0);
    const good = await LineClient.connectTls(s.tlsPort!, { ca: material.cert });
    closers.push(() => good.close());
    expect(await good.until(/^\*\*\* You joined #lobby/)).toMatch(/nobody else is here/);
  });

  it('closes a connection whose record does not decrypt at once (not after the idle timeout); the room goes on', async () => {
    const s = await chat();
    const errors: string[] = [];
    s.on('trace', (e: TraceEvent) => e.kind === 'error' && errors.push(e.text));
    const member = await LineClient.connectTls(s.tlsPort!, { ca: material.cert });
    closers.push(() => member.close());
    await member.until(/^\*\*\* You joined/);
    const victim = await joined(s.tlsPort!);
    const left = nextLeave(s);
    // under the TLS layer, straight onto the TCP connection
    victim.raw.write(brokenRecord());
    expect(await closesWithin(victim.closed, 3000)).toBe(true);
    expect((await left).reason).toBe('connection closed');
    expect(errors.some((t) => /decrypt|bad record mac/i.test(t))).toBe(true);
    member.socket.write('still here\n');
    member.socket.write('/who\n');
    expect(await member.until(/^\*\*\* In #lobby/)).toMatch(/\(1\)/);
  });

  it('refuses renegotiation: a TLS 1.2 client that asks is closed at its first attempt', async () => {
    const s = await chat();
    const member = await joined(s.tlsPort!);
    const attacker = await joined(s.tlsPort!, 'TLSv1.2');
    const left = nextLeave(s);
    const renegotiations = await renegotiateUntilClosed(attacker);
    expect(await closesWithin(attacker.closed, 3000)).toBe(true);
    expect(renegotiations).toBe(0);
    expect((await left).reason).toBe('connection closed');
    // the other client is untouched
    const who = received(member, /In #lobby \(\d+\)/);
    member.secure.write('/who\n');
    expect(await who).toMatch(/In #lobby \(1\)/);
  });

  it('a client reset in the middle of a line leaves the room and its descriptor at once', async () => {
    const s = await chat();
    const baseline = socketFds();
    const c = await joined(s.tlsPort!);
    const left = nextLeave(s);
    c.secure.write('half a li');
    c.raw.resetAndDestroy();
    expect((await left).reason).toBe('connection closed');
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(s.clients).toBe(0);
  });
});

describe('tcpListen({tls}): hostile clients', () => {
  async function listen(opts: Parameters<typeof tcpListen>[0] = {}): Promise<TcpListener> {
    const l = await tcpListen({
      echo: true,
      tls: { context: material.context, handshakeTimeoutMs: 300 },
      maxConnections: 200,
      maxConnectionsPerIp: 200,
      ...opts,
    });
    closers.push(() => l.close(200));
    return l;
  }

  async function echoes(port: number): Promise<string> {
    const c = await tlsClient(port);
    c.secure.write('ping');
    const [d] = await once(c.secure, 'data');
    return String(d);
  }

  it('200 clients that never finish a handshake, or send garbage, are dropped; descriptors and slots come back', async () => {
    const l = await listen();
    const failures: TcpTlsErrorInfo[] = [];
    l.on('tlsError', (e: TcpTlsErrorInfo) => failures.push(e));
    const baseline = socketFds();
    const { allClosed } = await crowd(l.port, 200, (i) =>
      i % 3 === 0 ? undefined : i % 3 === 1 ? PARTIAL_CLIENT_HELLO : Buffer.from('GET / HTTP/1.0\r\n\r\n'),
    );
    expect(await closesWithin(allClosed, 5000)).toBe(true);
    expect(failures).toHaveLength(200);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(await eventually(() => l.connections === 0)).toBe(true);
    expect(await echoes(l.port)).toBe('ping');
  });

  it('closes a connection whose record does not decrypt at once', async () => {
    const l = await listen({ idleTimeoutMs: 0 });
    const c = await tlsClient(l.port);
    c.secure.write('ping');
    await once(c.secure, 'data');
    c.raw.write(brokenRecord());
    expect(await closesWithin(c.closed, 3000)).toBe(true);
    expect(await echoes(l.port)).toBe('ping');
  });

  it('refuses renegotiation: a TLS 1.2 client that asks is closed at its first attempt', async () => {
    const l = await listen();
    const c = await tlsClient(l.port, 'TLSv1.2');
    const renegotiations = await renegotiateUntilClosed(c);
    expect(await closesWithin(c.closed, 3000)).toBe(true);
    expect(renegotiations).toBe(0);
  });
});
