/**
 * Implicit FTPS (`tlsPort`) in our server, driven with raw sockets and our own client: the TLS
 * port beside the plain one, AUTH/PBSZ/PROT there, PROT P by default, TLS session resumption on
 * data connections, one connection count for both ports, plaintext and silent clients on the TLS
 * port, the handshake timeout, requireTls, shutdown, and the option errors.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { FtpClient } from '../../src/ftp/client.js';
import { createFtpServer } from '../../src/ftp/server.js';
import type { FtpSessionEvent } from '../../src/ftp/session.js';
import { type Fixture, nextSessionEvent, PASSWORDS, startFixture } from './fixture.js';
import { RawFtp } from './raw-client.js';

let fx: Fixture;
let tlsPort: number;
let devCert: string;

beforeAll(async () => {
  fx = await startFixture({ tlsPort: 0 });
  tlsPort = fx.server.tlsPort!;
  devCert = await readFile(path.join(fx.data, 'tls/dev-cert.pem'), 'utf8');
});
afterAll(() => fx.cleanup());

/** Resolve when `cond()` holds, checking every few milliseconds (a condition, not a fixed sleep). */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A TLS client to `port`: 'secure' once its handshake is done, else how the connection ended. */
function tlsAttempt(port: number): Promise<{ secure: boolean; socket: tls.TLSSocket; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    socket.once('secureConnect', () => resolve({ secure: true, socket }));
    socket.once('error', (err) => resolve({ secure: false, socket, error: err.message }));
    socket.once('close', () => resolve({ secure: false, socket }));
  });
}

/** A plain TCP client that sends `text` (if any) and collects everything until the server closes. */
function plainToTlsPort(port: number, text?: string): Promise<{ received: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      if (text !== undefined) s.write(text);
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    s.once('close', () => resolve({ received: Buffer.concat(chunks), ms: Date.now() - start }));
    setTimeout(() => reject(new Error('the TLS port never closed the connection')), 10_000).unref();
  });
}

function collectTraces(server: Fixture['server']): TraceEvent[] {
  const events: TraceEvent[] = [];
  server.on('trace', (ev: TraceEvent) => events.push(ev));
  return events;
}

describe('the implicit-TLS port', () => {
  it('listens beside the plain port and greets inside TLS; AUTH is 503 there, PBSZ and PROT work', async () => {
    expect(tlsPort).toBeGreaterThan(0);
    expect(tlsPort).not.toBe(fx.port);
    const c = await RawFtp.connectTls(tlsPort, { ca: devCert, rejectUnauthorized: true });
    expect(c.greeting.code).toBe(220);
    expect(c.tlsSocket.encrypted).toBe(true);
    expect(c.tlsSocket.authorized).toBe(true);
    const auth = await c.cmd('AUTH TLS');
    expect(auth.code).toBe(503);
    expect(auth.text).toMatch(/implicit/);
    // the connection is still usable after the refused AUTH
    await c.login('alice', PASSWORDS.alice);
    const stat = await c.cmd('STAT');
    expect(stat.lines.join('\n')).toMatch(/secured with TLS \(implicit FTPS\); data protection P/);
    expect((await c.cmd('PROT C')).code).toBe(503); // PBSZ first, as after AUTH TLS
    expect((await c.cmd('PBSZ 0')).code).toBe(200);
    expect((await c.cmd('PROT C')).code).toBe(200);
    expect((await c.cmd('PROT E')).code).toBe(536);
    expect((await c.cmd('PROT P')).code).toBe(200);
    expect((await c.cmd('FEAT')).lines).toContain(' PBSZ');
    expect((await c.cmd('QUIT')).code).toBe(221);
    await c.lc.closed;

    // the plain port still speaks plaintext, with PBSZ refused before AUTH TLS
    const p = await RawFtp.connect(fx.port);
    expect(p.greeting.code).toBe(220);
    expect((await p.cmd('PBSZ 0')).code).toBe(503);
    p.close();
  });

  it('protects data by default (PROT P); PROT C switches to clear; data TLS sessions resume', async () => {
    const c = await RawFtp.connectTls(tlsPort);
    await c.login('alice', PASSWORDS.alice);
    await c.cmd('TYPE I');
    const session = c.tlsSocket.getSession();
    expect(session).toBeInstanceOf(Buffer);
    const body = randomBytes(200_000);
    // no PBSZ, no PROT: the data connections are TLS (a plain data client would get TLS records)
    const up = await c.store('STOR implicit.bin', body, { session });
    expect([up.first.code, up.last.code]).toEqual([150, 226]);
    expect((await readFile(path.join(fx.root, 'home/alice/implicit.bin'))).equals(body)).toBe(true);
    const down = await c.retrieve('RETR implicit.bin', { session });
    expect([down.first.code, down.last.code]).toEqual([150, 226]);
    expect(down.data.equals(body)).toBe(true);
    // resumption is offered, as on the explicit port (same SecureContext), not required
    expect(down.resumed).toBe(true);
    const fresh = await c.retrieve('RETR implicit.bin', {});
    expect(fresh.data.equals(body)).toBe(true);
    expect(fresh.resumed).toBe(false);

    expect((await c.cmd('PBSZ 0')).code).toBe(200);
    expect((await c.cmd('PROT C')).code).toBe(200);
    const clear = await c.retrieve('RETR implicit.bin');
    expect(clear.data.equals(body)).toBe(true);
    expect(clear.last.code).toBe(226);
    expect(clear.resumed).toBeUndefined();
    await c.cmd('QUIT');
  });

  it('our client: implicit TLS on the TLS port and explicit TLS on the plain port at the same time', async () => {
    await until(() => fx.server.connections === 0, 'earlier connections to close');
    const common = { host: '127.0.0.1', user: 'alice', password: PASSWORDS.alice, ca: [devCert] };
    const [implicit, explicit] = await Promise.all([
      FtpClient.connect({ ...common, port: tlsPort, tls: 'implicit' }),
      FtpClient.connect({ ...common, port: fx.port, tls: 'explicit' }),
    ]);
    try {
      const live = fx.server.sessions().filter((s) => s.user === 'alice');
      expect(live).toHaveLength(2);
      expect(live.every((s) => s.secure)).toBe(true);
      const body = randomBytes(150_000);
      const local = path.join(fx.base, 'client-up.bin');
      await writeFile(local, body);
      await implicit.put(local, 'both-ports.bin');
      const back = path.join(fx.base, 'client-back.bin');
      await explicit.get('both-ports.bin', back);
      expect((await readFile(back)).equals(body)).toBe(true);
      const [a, b] = await Promise.all([implicit.list('/'), explicit.list('/')]);
      expect(a.map((e) => e.name)).toContain('both-ports.bin');
      expect(b.map((e) => e.name).sort()).toEqual(a.map((e) => e.name).sort());
    } finally {
      implicit.close();
      explicit.close();
    }
  });

  it('session events: connect after the handshake (secure), login, close; a handshake in progress is no session', async () => {
    await until(() => fx.server.connections === 0, 'earlier connections to close');
    const silent = net.connect({ port: tlsPort, host: '127.0.0.1' });
    silent.on('error', () => {});
    await until(() => fx.server.connections === 1, 'the silent client to be accepted');
    expect(fx.server.sessions()).toEqual([]);
    const events: FtpSessionEvent[] = [];
    const onSession = (e: FtpSessionEvent) => events.push(e);
    fx.server.on('session', onSession);
    silent.destroy();
    const closed = nextSessionEvent(fx, (e) => e.event === 'close');
    const c = await RawFtp.connectTls(tlsPort);
    await c.login('gus', PASSWORDS.gus);
    expect(fx.server.sessions()).toEqual([expect.objectContaining({ user: 'gus', secure: true })]);
    await c.cmd('QUIT');
    await closed;
    fx.server.off('session', onSession);
    // the silent client never became a session: no event of its own
    expect(events.map((e) => [e.event, e.secure, e.user ?? null])).toEqual([
      ['connect', true, null],
      ['login', true, 'gus'],
      ['command', true, 'gus'], // QUIT
      ['close', true, 'gus'],
    ]);
  });

  it('plaintext on the TLS port fails that handshake only; a session there goes on', async () => {
    const traces = collectTraces(fx.server);
    const busy = await RawFtp.connectTls(tlsPort);
    await busy.login('alice', PASSWORDS.alice);
    for (const text of ['USER alice\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']) {
      const r = await plainToTlsPort(tlsPort, text);
      expect(r.received.toString('latin1')).not.toMatch(/220|331|FTP/);
    }
    const failures = traces.filter((t) => t.kind === 'error' && /TLS handshake failed/.test(t.text));
    expect(failures.map((t) => t.text)).toEqual(
      expect.arrayContaining([
        'TLS handshake failed: wrong version number',
        'TLS handshake failed: http request',
      ]),
    );
    expect((await busy.cmd('NOOP')).code).toBe(200);
    expect((await busy.cmd('PWD')).text).toMatch(/^"\/"/);
    busy.close();
  });

  it('keeps the permission refusals of every account class, with their codes', async () => {
    const anon = await RawFtp.connectTls(tlsPort);
    await anon.login('anonymous', 'someone@example.org');
    await anon.cmd('TYPE I');
    expect((await anon.store('STOR /pub/new.txt', 'x', {})).first.code).toBe(532);
    expect((await anon.cmd('DELE /pub/readme.txt')).code).toBe(550);
    expect((await anon.retrieve('NLST /incoming', {})).first.code).toBe(550);
    const readme = await anon.retrieve('RETR /pub/readme.txt', {});
    expect(readme.data.toString()).toBe('line one\nline two\n');
    anon.close();

    const guest = await RawFtp.connectTls(tlsPort);
    await guest.login('gus', PASSWORDS.gus);
    await guest.cmd('TYPE I');
    expect((await guest.store('STOR g.txt', 'guest', {})).last.code).toBe(226);
    expect((await guest.store('STOR g.txt', 'again', {})).first.code).toBe(553);
    expect((await guest.cmd('DELE g.txt')).code).toBe(550);
    expect((await guest.cmd('MKD d')).code).toBe(550);
    guest.close();

    const real = await RawFtp.connectTls(tlsPort);
    await real.login('alice', PASSWORDS.alice);
    expect((await real.cmd('CWD ../../..')).code).toBe(550);
    expect((await real.retrieve('RETR canary-link', {})).first.code).toBe(550);
    real.close();

    const expired = await RawFtp.connectTls(tlsPort);
    await expired.cmd('USER old');
    expect((await expired.cmd(`PASS ${PASSWORDS.old}`)).code).toBe(530);
    expired.close();
  });
});

describe('limits and timeouts shared by both ports', () => {
  it('maxClients counts both ports: the TLS port closes newcomers, the plain port answers 421', async () => {
    const one = await startFixture({ tlsPort: 0, maxClients: 1 }, { base: fx.base });
    try {
      const plain = await RawFtp.connect(one.port);
      expect(plain.greeting.code).toBe(220);
      // over the limit the TLS port closes before any handshake: no session to carry a 421 in
      const refused = await tlsAttempt(one.server.tlsPort!);
      expect(refused.secure).toBe(false);
      const closed = nextSessionEvent(one, (e) => e.event === 'close');
      await plain.cmd('QUIT');
      await closed;
      const secure = await RawFtp.connectTls(one.server.tlsPort!);
      expect(secure.greeting.code).toBe(220);
      const late = await RawFtp.connect(one.port);
      expect(late.greeting.code).toBe(421);
      expect(late.greeting.text).toMatch(/to this server/);
      expect(one.server.connections).toBe(1);
      secure.close();
    } finally {
      await one.server.close(200);
    }
  });

  it('maxClientsPerIp counts both ports too', async () => {
    const perIp = await startFixture({ tlsPort: 0, maxClientsPerIp: 1 }, { base: fx.base });
    try {
      const secure = await RawFtp.connectTls(perIp.server.tlsPort!);
      expect(secure.greeting.code).toBe(220);
      const plain = await RawFtp.connect(perIp.port);
      expect(plain.greeting.code).toBe(421);
      expect(plain.greeting.text).toMatch(/from your address/);
      secure.close();
    } finally {
      await perIp.server.close(200);
    }
  });

  it('a client that never starts its handshake holds a slot until the handshake timeout', async () => {
    const srv = await startFixture(
      { tlsPort: 0, maxClients: 1, limits: { tlsHandshakeTimeoutMs: 300 } },
      { base: fx.base },
    );
    try {
      const traces = collectTraces(srv.server);
      // a plain FTP client on the TLS port waits for a greeting that never comes
      const silent = plainToTlsPort(srv.server.tlsPort!);
      await until(() => srv.server.connections === 1, 'the silent client to be accepted');
      const busy = await RawFtp.connect(srv.port);
      expect(busy.greeting.code).toBe(421);
      const r = await silent;
      expect(r.received.length).toBe(0);
      expect(r.ms).toBeGreaterThanOrEqual(250);
      expect(traces.some((t) => /no TLS handshake within 300 ms/.test(t.text))).toBe(true);
      await until(() => srv.server.connections === 0, 'the slot to be freed');
      const next = await RawFtp.connect(srv.port);
      expect(next.greeting.code).toBe(220);
      next.close();
    } finally {
      await srv.server.close(200);
    }
  });

  it('the handshake timeout applies to AUTH TLS on the plain port as well', async () => {
    const srv = await startFixture({ limits: { tlsHandshakeTimeoutMs: 300 } }, { base: fx.base });
    try {
      const c = await RawFtp.connect(srv.port);
      expect((await c.cmd('AUTH TLS')).code).toBe(234);
      const start = Date.now();
      await c.lc.closed;
      expect(Date.now() - start).toBeGreaterThanOrEqual(250);
    } finally {
      await srv.server.close(200);
    }
  });
});

describe('requireTls, shutdown and option errors', () => {
  it('requireTls is satisfied on the TLS port; PROT C is refused there, USER before AUTH on the plain one', async () => {
    const strict = await startFixture({ tlsPort: 0, requireTls: true }, { base: fx.base });
    try {
      const c = await RawFtp.connectTls(strict.server.tlsPort!);
      await c.login('alice', PASSWORDS.alice);
      const listing = await c.retrieve('NLST', {});
      expect(listing.last.code).toBe(226);
      expect((await c.cmd('PBSZ 0')).code).toBe(200);
      expect((await c.cmd('PROT C')).code).toBe(534);
      c.close();
      const p = await RawFtp.connect(strict.port);
      expect((await p.cmd('USER alice')).code).toBe(530);
      p.close();
    } finally {
      await strict.server.close(200);
    }
  });

  it('close() drops a client still in its handshake at once and says 421 to TLS sessions', async () => {
    const srv = await startFixture({ tlsPort: 0 }, { base: fx.base });
    const silent = plainToTlsPort(srv.server.tlsPort!);
    await until(() => srv.server.connections === 1, 'the silent client to be accepted');
    const c = await RawFtp.connectTls(srv.server.tlsPort!);
    await c.login('alice', PASSWORDS.alice);
    const start = Date.now();
    await srv.server.close(5000);
    expect(Date.now() - start).toBeLessThan(2000);
    expect((await c.reply()).code).toBe(421);
    expect((await silent).received.length).toBe(0);
  });

  it('refuses a TLS port without TLS, and a TLS port already in use', async () => {
    await expect(
      createFtpServer({ root: fx.root, dataDir: fx.data, port: 0, tlsPort: 0, tls: false }),
    ).rejects.toMatchObject({
      code: 'NETKIT_INVALID_INPUT',
    });
    await expect(
      createFtpServer({ root: fx.root, dataDir: fx.data, port: 0, tlsPort: fx.port }),
    ).rejects.toMatchObject({ code: 'NETKIT_ADDRESS_IN_USE' });
  });
});
