import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineConnection } from '../../src/core/connection.js';
import { listenTcp, type TcpServerHandle } from '../../src/core/server.js';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { LineClient, tempDir } from '../helpers/net.js';
import {
  closesWithin,
  crowd,
  eventually,
  rawTlsClient,
  socketFds,
  socketFdsBackTo,
} from '../helpers/tls-hostile.js';

let material: TlsMaterial;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  material = await loadTls(t.dir);
});
afterAll(() => cleanup());

/** more than loopback's socket buffers (a few MiB) hold: most of it waits in the socket's queue */
const BIG_REPLY = 32 * 1024 * 1024;

/** A tiny protocol: STARTTLS upgrades, PASS is secret, anything else is echoed as "got X". */
async function startToy(
  opts: {
    maxLineLength?: number;
    maxOutboundBytes?: number;
    maxDiscardBytes?: number;
    idleTimeoutMs?: number;
  } = {},
) {
  const tracer = new EventEmitter();
  const seen: string[] = [];
  /** each line's unsent reply bytes (the socket's writableLength) when its handler ran */
  const backlog = new Map<string, number>();
  const events: TraceEvent[] = [];
  tracer.on('trace', (e: TraceEvent) => events.push(e));
  const server = await listenTcp({
    service: 'toy',
    maxConnectionsPerIp: 3,
    onReject: () => 'busy\r\n',
    onConnection(socket) {
      const conn = new LineConnection(socket, {
        service: 'toy',
        tracer,
        redact: (l) => l.replace(/^PASS .*/, 'PASS ****'),
        ...opts,
      });
      conn.onOverflow(() => conn.writeLine('ERR line too long'));
      conn.on('close', () => tracer.emit('conn-close', conn.id));
      conn.writeLine('hello');
      conn.onLine(async (line) => {
        seen.push(line);
        backlog.set(line, conn.socket.writableLength);
        if (line === 'STARTTLS') {
          conn.writeLine('go ahead');
          await conn.upgradeTls(material.context);
          return;
        }
        if (line === 'STARTTLS-LATER') {
          // like POP3 STLS, which first waits for its "+OK" to leave: the peer's FIN can arrive meanwhile
          conn.writeLine('go ahead');
          if (!conn.socket.readableEnded) await once(conn.socket, 'end');
          await conn.upgradeTls(material.context).catch(() => {});
          return;
        }
        if (line === 'BIG') {
          conn.write(Buffer.alloc(BIG_REPLY, 'y'));
          return;
        }
        if (line === 'FLOOD') {
          for (let i = 0; i < 10_000 && !conn.closed; i++) conn.write(`${'x'.repeat(1000)}\r\n`);
          return;
        }
        conn.writeLine(`got ${line}`);
      });
    },
  });
  return { server, seen, backlog, events, tracer };
}

describe('LineConnection', () => {
  let toy: Awaited<ReturnType<typeof startToy>>;
  beforeAll(async () => {
    toy = await startToy({ maxLineLength: 64, maxOutboundBytes: 64 * 1024 });
  });
  afterAll(() => toy.server.close());

  it('answers pipelined lines in order', async () => {
    const c = await LineClient.connect(toy.server.port);
    expect(await c.line()).toBe('hello');
    c.send('a\r\nb\nc\r\n');
    expect([await c.line(), await c.line(), await c.line()]).toEqual(['got a', 'got b', 'got c']);
    c.close();
  });

  it('reports an overlong line and keeps the session usable', async () => {
    const c = await LineClient.connect(toy.server.port);
    await c.line();
    c.send(`${'x'.repeat(500)}\r\nafter\r\n`);
    expect(await c.line()).toBe('ERR line too long');
    expect(await c.line()).toBe('got after');
    c.close();
  });

  it('a line trickled in one byte at a time does not re-arm the idle timer (slowloris); whole lines do', async () => {
    const own = await startToy({ idleTimeoutMs: 1000 });
    try {
      // whole lines every 100 ms keep a connection open well past the timeout
      const c = await LineClient.connect(own.server.port);
      expect(await c.line()).toBe('hello');
      for (let i = 0; i < 15; i++) {
        c.send(`ping${i}\r\n`);
        expect(await c.line()).toBe(`got ping${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      c.close();
      // one byte every 20 ms, never a line end: closed at the idle timeout all the same
      const raw = net.connect(own.server.port, '127.0.0.1');
      raw.on('error', () => {});
      raw.on('data', () => {});
      const closed = new Promise((resolve) => raw.once('close', resolve));
      const drip = setInterval(() => raw.writable && raw.write('x'), 20);
      await closed;
      clearInterval(drip);
      expect(own.events.some((e) => e.kind === 'info' && e.text === 'idle timeout')).toBe(true);
    } finally {
      await own.server.close();
    }
  });

  it('closes a connection whose one line runs past maxDiscardBytes (an endless line, not the protocol)', async () => {
    const own = await startToy({ maxLineLength: 64, maxDiscardBytes: 100_000 });
    try {
      const raw = net.connect(own.server.port, '127.0.0.1');
      raw.on('error', () => {});
      // (not events.once: a reset on write is an 'error', which would reject it)
      const closed = new Promise((resolve) => raw.once('close', resolve));
      raw.on('data', () => {});
      // 64 KiB at a time, never a newline, until the server hangs up
      const junk = Buffer.alloc(65536, 65);
      const pump = (): void => {
        while (!raw.destroyed && raw.write(junk));
        if (!raw.destroyed) raw.once('drain', pump);
      };
      raw.once('connect', pump);
      await closed;
      expect(own.events.some((e) => e.text === 'one line of more than 100000 bytes; closing')).toBe(true);
    } finally {
      await own.server.close();
    }
  });

  it('discards plaintext pipelined after STARTTLS (command injection)', async () => {
    const raw = net.connect(toy.server.port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    let greeting = '';
    await new Promise<void>((resolve) => {
      raw.on('data', function onData(d) {
        greeting += d.toString();
        if (greeting.includes('go ahead')) {
          raw.off('data', onData);
          resolve();
        }
      });
      raw.write('STARTTLS\r\nINJECTED\r\n');
    });
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await new Promise((r) => secure.once('secureConnect', r));
    const reply = await new Promise<string>((resolve) => {
      secure.once('data', (d) => resolve(d.toString()));
      secure.write('after-tls\r\n');
    });
    expect(reply).toBe('got after-tls\r\n');
    expect(toy.seen).not.toContain('INJECTED');
    secure.destroy();
  });

  it('closes and reports the close when the peer hangs up instead of the TLS handshake', async () => {
    for (const hangUp of ['end', 'reset'] as const) {
      const raw = net.connect(toy.server.port, '127.0.0.1');
      raw.on('error', () => {});
      await new Promise((r) => raw.once('connect', r));
      let text = '';
      await new Promise<void>((resolve) => {
        raw.on('data', (d) => {
          text += d.toString();
          if (text.includes('go ahead')) resolve();
        });
        raw.write('STARTTLS\r\n');
      });
      const serverClosed = once(toy.tracer, 'conn-close');
      const clientClosed = once(raw, 'close');
      if (hangUp === 'end') raw.end();
      else raw.resetAndDestroy();
      // before the fix the server kept the socket in CLOSE-WAIT and never emitted 'close'
      await serverClosed;
      await clientClosed;
      expect(toy.events.some((e) => e.kind === 'error' && e.text.includes('TLS handshake failed'))).toBe(
        true,
      );
    }
  });

  it('closes when the peer pipelines STARTTLS and hangs up before the upgrade starts', async () => {
    const raw = net.connect(toy.server.port, '127.0.0.1');
    raw.on('error', () => {});
    raw.on('data', () => {});
    await new Promise((r) => raw.once('connect', r));
    const serverClosed = once(toy.tracer, 'conn-close');
    const clientClosed = once(raw, 'close');
    raw.end('STARTTLS-LATER\r\n');
    // before the fix the FIN was taken before the upgrade and forgotten: CLOSE-WAIT until idle timeout
    await serverClosed;
    await clientClosed;
  });

  it('redacts secrets in trace events', async () => {
    const c = await LineClient.connect(toy.server.port);
    await c.line();
    c.send('PASS hunter2\r\n');
    await c.line();
    c.close();
    const texts = toy.events
      .filter((e) => e.kind === 'in')
      .map((e) => e.text)
      .join('\n');
    expect(texts).toContain('PASS ****');
    expect(texts).not.toContain('hunter2');
  });

  it('drops a client that never reads once its queue passes the bound', async () => {
    const raw = net.connect(toy.server.port, '127.0.0.1');
    raw.on('error', () => {});
    await new Promise((r) => raw.once('data', r));
    raw.pause();
    const dropped = new Promise<void>((resolve) => {
      toy.tracer.on('trace', (e: TraceEvent) => {
        if (e.kind === 'error' && e.text.includes('peer not reading')) resolve();
      });
    });
    raw.write('FLOOD\r\n');
    await dropped;
    raw.destroy();
    const c = await LineClient.connect(toy.server.port);
    expect(await c.line()).toBe('hello');
    c.close();
  });

  it('answers the next pipelined line only once the peer has read the replies queued before it', async () => {
    // Dovecot's POP3_OUTBUF_THROTTLE_SIZE: a client that pipelines 100,000 NOOPs and reads nothing
    // must cost one socket buffer, not 100,000 queued replies (a write request each)
    const own = await startToy({ maxOutboundBytes: 2 * BIG_REPLY });
    try {
      const raw = net.connect(own.server.port, '127.0.0.1');
      raw.on('error', () => {});
      await once(raw, 'data');
      raw.pause();
      raw.write('BIG\r\nnext\r\n');
      await eventually(() => own.seen.includes('BIG'));
      let received = 0;
      raw.on('data', (d: Buffer) => {
        received += d.length;
      });
      raw.resume();
      await eventually(() => own.seen.includes('next'), 30_000);
      expect(own.backlog.get('BIG')).toBe(0);
      // without the wait, `next` ran with most of the 32 MiB still queued
      expect(own.backlog.get('next')).toBeLessThan(64 * 1024);
      await eventually(() => received >= BIG_REPLY + 'got next\r\n'.length, 30_000);
      raw.destroy();
    } finally {
      await own.server.close();
    }
  });

  it('limits connections per IP', async () => {
    const limited = await startToy();
    const clients = await Promise.all([1, 2, 3].map(() => LineClient.connect(limited.server.port)));
    for (const c of clients) expect(await c.line()).toBe('hello');
    const extra = await LineClient.connect(limited.server.port);
    expect(await extra.line()).toBe('busy');
    await extra.closed;
    for (const c of clients) c.close();
    await limited.server.close();
  });
});

describe('LineConnection with a drained hook', () => {
  it('after the peer half-closes, closes only once the lines answered later are answered', async () => {
    const later: string[] = [];
    const server = await listenTcp({
      service: 'later',
      onConnection(socket) {
        const conn = new LineConnection(socket, {
          service: 'later',
          // answers held lines one turn later, as FTP answers commands held back by a transfer
          drained: async () => {
            await new Promise<void>((resolve) => setImmediate(resolve));
            for (const l of later.splice(0)) conn.writeLine(`late ${l}`);
          },
        });
        conn.onLine((line) => {
          if (line.startsWith('LATER ')) later.push(line.slice(6));
          else conn.writeLine(`got ${line}`);
        });
      },
    });
    const c = await LineClient.connect(server.port);
    c.send('now\r\nLATER a\r\nLATER b\r\n');
    c.socket.end();
    expect([await c.line(), await c.line(), await c.line()]).toEqual(['got now', 'late a', 'late b']);
    await c.closed;
    await server.close();
  });
});

describe('listenTcp', () => {
  it('reports the real port and closes gracefully within the deadline', async () => {
    const server: TcpServerHandle = await listenTcp({ service: 'x', onConnection: () => {} });
    expect(server.port).toBeGreaterThan(0);
    const s = net.connect(server.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const t0 = Date.now();
    await server.close(300);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('names the service when the port is taken', async () => {
    const a = await listenTcp({ service: 'first', onConnection: () => {} });
    await expect(
      listenTcp({ service: 'second', port: a.port, onConnection: () => {} }),
    ).rejects.toMatchObject({
      code: 'NETKIT_ADDRESS_IN_USE',
    });
    await a.close();
  });
});

describe('LineConnection over TLS: a record that does not decrypt', () => {
  /** Connect (over `tls` at once, or after STARTTLS), then write a broken record under the TLS layer. */
  async function breakAfterHandshake(port: number, starttls: boolean): Promise<void> {
    const raw = net.connect(port, '127.0.0.1');
    raw.on('error', () => {});
    const closed = once(raw, 'close');
    await once(raw, 'connect');
    if (starttls) {
      let text = '';
      await new Promise<void>((resolve) => {
        const onData = (d: Buffer) => {
          text += d.toString();
          if (!text.includes('go ahead')) return;
          raw.off('data', onData);
          resolve();
        };
        raw.on('data', onData);
        raw.write('STARTTLS\r\n');
      });
    }
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    secure.on('error', () => {});
    // the toy answers a line after STARTTLS; the implicit-TLS one says hello
    if (starttls) secure.write('x\r\n');
    await once(secure, 'data');
    raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 0xa5)]));
    const gone = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
    ]);
    raw.destroy();
    expect(gone).toBe(true);
  }

  it('closes the connection at once after STARTTLS (the idle timeout is 5 min)', async () => {
    const toy = await startToy();
    try {
      await breakAfterHandshake(toy.server.port, true);
    } finally {
      await toy.server.close(100);
    }
  });

  it('closes it on a tls.Server socket too (listenTcp({tls})), which reports the error without closing', async () => {
    const server = await listenTcp({
      service: 'toy-tls',
      tls: material.options,
      onConnection(socket) {
        new LineConnection(socket, { service: 'toy-tls' }).writeLine('hello');
      },
    });
    try {
      await breakAfterHandshake(server.port, false);
    } finally {
      await server.close(100);
    }
  });
});

describe('listenTcp({tls}): implicit TLS on sockets the listener wraps itself', () => {
  it('a connection counts from its TCP connect; a silent one is dropped at the handshake timeout; over the limit is closed without a word', async () => {
    const sessions: tls.TLSSocket[] = [];
    const server = await listenTcp({
      service: 'toy-tls',
      tls: material.options,
      tlsHandshakeTimeoutMs: 300,
      maxConnections: 2,
      onReject: () => 'busy\r\n',
      onConnection(socket) {
        sessions.push(socket as tls.TLSSocket);
        socket.write('hello\r\n');
      },
    });
    try {
      const baseline = socketFds();
      const good = await rawTlsClient(server.port);
      const greeting = once(good.secure, 'data');
      expect(String((await greeting)[0])).toBe('hello\r\n');
      expect(sessions[0]!.encrypted).toBe(true);
      // a client that never starts its handshake holds the second slot meanwhile
      const { allClosed: silentGone } = await crowd(server.port, 1);
      expect(await eventually(() => server.connections === 2)).toBe(true);
      const { sockets: over, allClosed: overGone } = await crowd(server.port, 1);
      const said: Buffer[] = [];
      over[0]!.on('data', (d: Buffer) => said.push(d));
      expect(await closesWithin(overGone, 3000)).toBe(true);
      expect(Buffer.concat(said).length).toBe(0);
      // the handshake timeout (not an idle timeout: there is none) drops the silent one
      expect(await closesWithin(silentGone, 3000)).toBe(true);
      expect(await eventually(() => server.connections === 1)).toBe(true);
      // a session past its handshake stays, and close() ends it gracefully
      const ended = once(good.secure, 'end');
      await server.close(1000);
      await ended;
      good.raw.destroy();
      expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    } finally {
      await server.close(100);
    }
  });
});
