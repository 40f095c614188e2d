/**
 * The chat over TLS, library level: a TLS listener beside the plain one (one set of rooms, one
 * connection count), TLS-only mode, the handshake timeout, hostile clients on the TLS port, a TLS
 * client that stops reading, and `ChatClient` with certificate verification.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { ChatClient } from '../../src/sockets/chat-client.js';
import {
  type ChatJoinEvent,
  type ChatLeaveEvent,
  type ChatServer,
  type ChatServerOptions,
  createChatServer,
} from '../../src/sockets/chat-server.js';
import { LineClient, tempDir } from '../helpers/net.js';

let material: TlsMaterial;
let cleanupDir: () => Promise<void>;
const servers: ChatServer[] = [];
const clients: LineClient[] = [];
const sockets: net.Socket[] = [];
const chatClients: ChatClient[] = [];

beforeAll(async () => {
  const { dir, cleanup } = await tempDir('netkit-chat-tls-');
  cleanupDir = cleanup;
  // the development certificate (localhost, 127.0.0.1, ::1), made in the temp data directory
  material = await loadTls(dir);
});
afterAll(async () => {
  await cleanupDir();
});
afterEach(async () => {
  for (const c of chatClients.splice(0)) c.close();
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close(200);
});

async function start(opts: ChatServerOptions = {}): Promise<ChatServer> {
  const s = await createChatServer({ rateLimit: { perSecond: 0 }, tls: material, tlsPort: 0, ...opts });
  servers.push(s);
  return s;
}

/** A TLS client that trusts the server's certificate, once it has joined (and renamed itself). */
async function joinTls(port: number, nick?: string): Promise<LineClient> {
  const c = await LineClient.connectTls(port, { ca: material.cert });
  clients.push(c);
  await c.until(/^\*\*\* You joined #/);
  if (nick) {
    c.send(`/nick ${nick}\r\n`);
    await c.until(new RegExp(`^\\*\\*\\* You are now known as ${nick}$`));
  }
  return c;
}

async function joinPlain(port: number, nick?: string): Promise<LineClient> {
  const c = await LineClient.connect(port);
  clients.push(c);
  await c.until(/^\*\*\* You joined #/);
  if (nick) {
    c.send(`/nick ${nick}\r\n`);
    await c.until(new RegExp(`^\\*\\*\\* You are now known as ${nick}$`));
  }
  return c;
}

/** A raw TCP connection that says nothing (or `send`), and what it received until the server closed. */
async function raw(port: number, send?: string): Promise<{ socket: net.Socket; closed: Promise<string> }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
  });
  const closed = once(socket, 'close').then(() => text);
  if (send !== undefined) socket.write(send);
  return { socket, closed };
}

/** Try a TLS connection that the server is expected to refuse: resolves with the client's error. */
function tlsRefused(port: number): Promise<Error> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: material.cert });
    s.once('secureConnect', () => {
      s.destroy();
      reject(new Error('the TLS connection was accepted'));
    });
    s.once('error', resolve);
  });
}

function next<T>(s: ChatServer, event: string, pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T) => {
      if (!pred(v)) return;
      s.off(event, on);
      resolve(v);
    };
    s.on(event, on);
  });
}

/** Resolves once the server has accepted a new connection (before any TLS handshake). */
function accepted(s: ChatServer): Promise<TraceEvent> {
  return next<TraceEvent>(s, 'trace', (e) => e.kind === 'connect');
}

describe('chat over TLS: listeners', () => {
  it('reports both bound addresses; TLS and plain users share the rooms', async () => {
    const s = await start();
    expect(s.port).toBeGreaterThan(0);
    expect(s.tlsPort).toBeGreaterThan(0);
    expect(s.tlsPort).not.toBe(s.port);
    expect(s.addresses).toEqual([
      { host: '127.0.0.1', port: s.port, tls: false },
      { host: '127.0.0.1', port: s.tlsPort, tls: true },
    ]);
    const plain = await joinPlain(s.port, 'plainuser');
    const secure = await LineClient.connectTls(s.tlsPort!, { ca: material.cert, servername: 'localhost' });
    clients.push(secure);
    expect((secure.socket as tls.TLSSocket).authorized).toBe(true);
    expect(await secure.line()).toMatch(
      new RegExp(
        `^\\*\\*\\* Welcome to netkit chat \\S+ on 127\\.0\\.0\\.1:${s.tlsPort} \\(TLS\\) \\(2 online\\)\\.$`,
      ),
    );
    expect(await secure.until(/^\*\*\* You joined/)).toBe('*** You joined #lobby (1 other here: plainuser)');
    secure.send('/nick tlsuser\n');
    await secure.until(/known as tlsuser$/);
    expect(await plain.line()).toMatch(/^\*\*\* guest\d+ joined #lobby$/);
    expect(await plain.line()).toMatch(/^\*\*\* guest\d+ is now known as tlsuser$/);
    secure.send('hello over TLS\n');
    expect(await plain.line()).toBe('<tlsuser> hello over TLS');
    plain.send('hello in the clear\n');
    expect(await secure.line()).toBe('<plainuser> hello in the clear');
    secure.send('/msg plainuser psst\n');
    expect(await plain.line()).toBe('*tlsuser* psst');
    expect(s.rooms()[0]!.members.sort()).toEqual(['plainuser', 'tlsuser']);
    expect(s.clients).toBe(2);
  });

  it('tlsOnly: the main port speaks TLS, and nothing listens in the clear', async () => {
    const s = await start({ tlsPort: undefined, tlsOnly: true });
    expect(s.addresses).toEqual([{ host: '127.0.0.1', port: s.port, tls: true }]);
    expect(s.tlsPort).toBe(s.port);
    const a = await joinTls(s.port, 'alice');
    const b = await joinTls(s.port, 'bob');
    await a.until(/known as bob$/);
    b.send('hi alice\n');
    expect(await a.line()).toBe('<bob> hi alice');
    // a netcat user gets no banner: the bytes it sends are not a TLS handshake
    const nc = await raw(s.port, 'hello?\r\n');
    expect(await nc.closed).not.toMatch(/Welcome|\*\*\*/);
  });

  it('half-close: the replies to the last lines arrive before the server closes (TLS and plain)', async () => {
    const s = await start();
    await joinPlain(s.port, 'alice');
    for (const secure of [true, false]) {
      const c = secure
        ? await LineClient.connectTls(s.tlsPort!, { ca: material.cert })
        : await LineClient.connect(s.port);
      clients.push(c);
      await c.until(/^\*\*\* You joined/);
      // the last lines and the end of input in one go
      c.socket.end('/nick last\n/who\n');
      expect(await c.until(/^\*\*\* In #lobby/)).toBe('*** In #lobby (2): alice, last');
      await c.closed;
    }
  });

  it('rejects tlsOnly together with tlsPort', async () => {
    await expect(start({ tlsOnly: true, tlsPort: 0 })).rejects.toMatchObject({ code: 'NETKIT_USAGE' });
  });

  it('close() says goodbye to TLS clients too, and drops a half-done handshake at once', async () => {
    const s = await createChatServer({ tls: material, tlsPort: 0 });
    const a = await joinTls(s.tlsPort!, 'alice');
    const b = await joinPlain(s.port, 'bob');
    const seen = accepted(s);
    const stuck = await raw(s.tlsPort!);
    await seen;
    // a long deadline: close() must not wait for it (the handshake is destroyed, the rest leave)
    await s.close(60_000);
    expect(await a.until(/shutting down/)).toBe('*** Server shutting down. Goodbye!');
    expect(await b.until(/shutting down/)).toBe('*** Server shutting down. Goodbye!');
    expect(await stuck.closed).toBe('');
    await Promise.all([a.closed, b.closed]);
  });
});

describe('chat over TLS: hostile and broken clients', () => {
  it('drops a client that never finishes its handshake after the handshake timeout; nobody sees it', async () => {
    const s = await start({ tlsHandshakeTimeoutMs: 200, maxClients: 2 });
    const traces: TraceEvent[] = [];
    s.on('trace', (e: TraceEvent) => traces.push(e));
    const joins: ChatJoinEvent[] = [];
    s.on('join', (e: ChatJoinEvent) => joins.push(e));
    const member = await joinPlain(s.port, 'member');
    const seen = accepted(s);
    const stuck = await raw(s.tlsPort!);
    await seen;
    // the silent connection holds a slot while it lasts: the limit counts it
    const refused = await raw(s.port);
    expect(await refused.closed).toBe('!!! The chat is full; try again later.\r\n');
    expect(await stuck.closed).toBe('');
    expect(traces.some((e) => e.kind === 'error' && /no TLS handshake within 200 ms/.test(e.text))).toBe(
      true,
    );
    // its slot is free again, and the room never heard of it
    const after = await joinTls(s.tlsPort!, 'after');
    expect(await member.line()).toMatch(/^\*\*\* guest\d+ joined #lobby$/);
    expect(joins.map((j) => j.nick)).toHaveLength(2);
    after.send('fine\n');
    expect(await member.until(/^</)).toBe('<after> fine');
  });

  it('drops plaintext on the TLS port without a word to anyone', async () => {
    const s = await start();
    const failures: string[] = [];
    s.on('trace', (e: TraceEvent) => e.kind === 'error' && failures.push(e.text));
    const member = await joinTls(s.tlsPort!, 'member');
    const nc = await raw(s.tlsPort!, '/nick intruder\r\nhello in the clear\r\n');
    const got = await nc.closed;
    expect(got).not.toMatch(/Welcome|intruder|\*\*\*/);
    // traced in words, without OpenSSL's error-queue dump
    expect(failures).toEqual(['TLS handshake failed: wrong version number']);
    // binary garbage too
    const junk = await raw(s.tlsPort!, '\u0016\u0003\u0001\u00ff\u00ff garbage');
    await junk.closed;
    member.send('/who\n');
    expect(await member.line()).toBe('*** In #lobby (1): member');
    expect(s.clients).toBe(1);
    const second = await joinTls(s.tlsPort!, 'second');
    second.send('still serving\n');
    expect(await member.until(/^</)).toBe('<second> still serving');
  });

  it('turns a TLS handshake at the plain port away: none of its bytes reach the room or its history', async () => {
    const s = await start({ historySize: 10 });
    const traces: string[] = [];
    s.on('trace', (ev: TraceEvent) => traces.push(ev.text));
    const left = next<ChatLeaveEvent>(s, 'leave');
    await expect(
      ChatClient.connect({ host: '127.0.0.1', port: s.port, tls: true, ca: material.cert }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/does not speak TLS/) });
    await left;
    expect(traces).toContain('a TLS handshake at the plain port; closed');
    const c = await LineClient.connect(s.port);
    clients.push(c);
    await c.until(/^\*\*\* You joined #lobby/);
    c.send('/who\n');
    // no "Recent messages" block with a ClientHello in it before the answer
    expect(await c.line()).toMatch(/^\*\*\* In #lobby \(1\): guest\d+$/);
  });

  it('counts connections across both listeners: total and per address', async () => {
    const s = await start({ maxClients: 2 });
    await joinPlain(s.port);
    await joinTls(s.tlsPort!);
    // full: the plain port says so, the TLS port just closes (there is no session to say it in)
    expect(await (await raw(s.port)).closed).toBe('!!! The chat is full; try again later.\r\n');
    expect((await tlsRefused(s.tlsPort!)).message).toMatch(/socket disconnected|ECONNRESET|closed/i);

    const p = await start({ maxClientsPerIp: 1 });
    const first = await joinTls(p.tlsPort!);
    expect(await (await raw(p.port)).closed).toBe('!!! Too many connections from your address.\r\n');
    await tlsRefused(p.tlsPort!);
    // the slot comes back once the TLS client is gone
    const left = next<ChatLeaveEvent>(p, 'leave');
    first.close();
    await left;
    await joinPlain(p.port);
  });

  it('drops a TLS client that stops reading once its queue passes max-queue; the room goes on', async () => {
    const s = await start({ maxOutboundBytes: 256 * 1024 });
    const slow = await joinTls(s.tlsPort!, 'slow');
    slow.socket.pause();
    const reader = await joinTls(s.tlsPort!, 'reader');
    const talker = await joinPlain(s.port, 'talker');
    await reader.until(/known as talker$/);
    let gone = false;
    const left = next<ChatLeaveEvent>(s, 'leave').then((e) => {
      gone = true;
      return e;
    });
    let received = 0;
    let outOfOrder = 0;
    let carry = '';
    reader.socket.removeAllListeners('data');
    reader.socket.on('data', (d: string) => {
      const parts = (carry + d).split('\r\n');
      carry = parts.pop()!;
      for (const l of parts) {
        if (!l.startsWith('<talker> ')) continue;
        if (!l.startsWith(`<talker> ${received} `)) outOfOrder++;
        received++;
      }
    });
    /** every turn of the event loop until the reader has everything sent so far, or someone left */
    const caughtUp = () =>
      new Promise<void>((resolve) => {
        const check = () => (gone || received >= sent ? resolve() : setImmediate(check));
        check();
      });
    const payload = 'z'.repeat(900);
    let sent = 0;
    // paced by the reader, so only the one that stopped reading falls behind; the kernel's
    // buffers take a few MB first, 40k lines (36 MB) is far beyond them
    while (!gone && sent < 40_000) {
      let chunk = '';
      for (let j = 0; j < 50; j++) chunk += `${sent + j} ${payload}\n`;
      sent += 50;
      talker.send(chunk);
      await caughtUp();
    }
    expect(await left).toMatchObject({ nick: 'slow', reason: 'too slow' });
    // the reader still gets every line, the ones after the drop too
    const last = sent;
    talker.send(`${last} after the drop\n`);
    sent += 1;
    await new Promise<void>((resolve) => {
      const check = () => (received >= sent ? resolve() : setImmediate(check));
      check();
    });
    expect({ received, outOfOrder }).toEqual({ received: last + 1, outOfOrder: 0 });
    expect(s.rooms()[0]!.members.sort()).toEqual(['reader', 'talker']);
  }, 30_000);
});

describe('ChatClient over TLS', () => {
  it('verifies the certificate with `ca`, and refuses an unknown one with a clear error', async () => {
    const s = await start();
    const c = await ChatClient.connect({
      host: '127.0.0.1',
      port: s.tlsPort!,
      tls: true,
      ca: material.cert,
      nick: 'viaclient',
    });
    chatClients.push(c);
    const ready = once(c, 'ready');
    const watcher = await joinPlain(s.port, 'watcher');
    expect(await ready).toEqual([true]);
    expect(await watcher.until(/known as viaclient$/)).toMatch(/^\*\*\* guest\d+ is now known as viaclient$/);
    c.send('hi over tls');
    expect(await watcher.line()).toBe('<viaclient> hi over tls');
    const lines: string[] = [];
    c.on('line', (l: string) => lines.push(l));
    watcher.send('hi back\n');
    await new Promise<void>((resolve) => c.on('line', (l: string) => l.startsWith('<watcher>') && resolve()));
    expect(lines).toContain('<watcher> hi back');

    await expect(
      ChatClient.connect({ host: '127.0.0.1', port: s.tlsPort!, tls: true }),
    ).rejects.toMatchObject({
      code: 'NETKIT_CONNECT_FAILED',
      message: expect.stringMatching(
        /^TLS certificate of 127\.0\.0\.1:\d+ not trusted \(self-signed certificate\); trust it with --ca FILE, or skip verification with --insecure$/,
      ),
    });
    await expect(
      ChatClient.connect({
        host: '127.0.0.1',
        port: s.tlsPort!,
        tls: true,
        ca: material.cert,
        servername: 'chat.example.org',
      }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/is for another name.*--servername/) });
    // a plain port answered with TLS
    await expect(
      ChatClient.connect({ host: '127.0.0.1', port: s.port, tls: true, ca: material.cert }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/does not speak TLS/) });
    // without verification it connects (a throwaway self-signed certificate)
    const k = await ChatClient.connect({
      host: '127.0.0.1',
      port: s.tlsPort!,
      tls: true,
      rejectUnauthorized: false,
    });
    chatClients.push(k);
    const lineK = once(k, 'line');
    expect(await lineK).toEqual([expect.stringMatching(/^\*\*\* Welcome to netkit chat .* \(TLS\)/)]);
  });
});
