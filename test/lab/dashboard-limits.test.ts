/**
 * The dashboard's limits on what one client can cost the lab:
 * - WebSocket: every `error` reply goes through the same 1 MiB check as the broadcasts, and a
 *   client that keeps sending invalid messages is closed (1008). A client that flooded one-byte
 *   invalid frames and never read took the lab from 63 MiB to 926 MiB.
 * - connections: the shared listener's total and per-address limits (1,000 event streams that
 *   never read used to exhaust the lab's descriptors); over a limit, 503 with Retry-After.
 * - the request-head timeout of node:http still works although the listener hands it the sockets.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { configFromFile, resolveLabConfig } from '../../src/lab/config.js';
import type { LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, type DashboardOptions, startDashboard } from '../../src/lab/dashboard.js';
import { tempDir } from '../helpers/net.js';
import { eventually } from '../helpers/tls-hostile.js';
import { testLabContext } from './lab-context.js';

const UPGRADE =
  'GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** A masked text frame carrying the one byte "x" (mask 0: the payload is sent as is). */
const INVALID_FRAME = Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x78]);

describe('dashboard limits', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ctx: LabContext;
  let dash: DashboardHandle | undefined;
  const open: { destroy(): void }[] = [];

  const start = async (opts: DashboardOptions = {}): Promise<DashboardHandle> => {
    dash = await startDashboard(ctx, { port: 0, ...opts });
    return dash;
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    ctx = testLabContext(dir);
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.destroy();
    await dash?.close();
    dash = undefined;
  });
  afterAll(async () => {
    await cleanup();
  });

  it('closes a WebSocket client that keeps sending invalid messages (1008), after answering the first ones', async () => {
    const d = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${d.port}/api/v1/ws`);
    open.push({ destroy: () => ws.terminate() });
    const replies: string[] = [];
    ws.on('message', (m) => replies.push(String(m)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    for (let i = 0; i < 21; i++) ws.send(i % 2 ? 'x' : 'null');
    expect(await closed).toBe(1008);
    expect(replies).toHaveLength(20);
    expect(JSON.parse(replies[0]!)).toMatchObject({
      type: 'error',
      data: { message: 'expected a JSON object' },
    });
    expect(JSON.parse(replies[1]!)).toMatchObject({ type: 'error' });
  });

  it('cuts off a WebSocket client that floods invalid frames and never reads', async () => {
    const d = await start();
    const s = net.connect(d.port, '127.0.0.1');
    open.push(s);
    s.on('error', () => {});
    let head = '';
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        // from here on nothing is read: replies pile up on the lab's side
        s.off('data', onData);
        s.pause();
        resolve();
      };
      s.on('data', onData);
      s.write(UPGRADE);
    });
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(d.connections).toBe(1);
    // 20,000 one-byte invalid frames in one send: each was answered, and the answers buffered
    // without bound (the audit's client sent this over and over: 926 MiB)
    s.write(Buffer.concat(Array.from({ length: 20_000 }, () => INVALID_FRAME)));
    expect(await eventually(() => d.connections === 0, 10_000)).toBe(true);
    expect((await fetch(`${d.url}livez`)).status).toBe(200);
  });

  it('refuses the connection over the total limit with 503, keeps the others, and takes a new one once they close', async () => {
    const d = await start({ maxConnections: 3 });
    // event streams and WebSockets hold their connection: they count
    const first = await sse(d.port);
    const second = await sse(d.port);
    const ws = new WebSocket(`ws://127.0.0.1:${d.port}/api/v1/ws`);
    open.push(first, second, { destroy: () => ws.terminate() });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(d.connections).toBe(3);

    const refused = await rawRequest(d.port);
    expect(refused).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused).toMatch(/\r\nRetry-After: \d+\r\n/i);
    // the refusal touched no one else
    expect(first.closed() || second.closed() || ws.readyState !== WebSocket.OPEN).toBe(false);
    expect(d.connections).toBe(3);

    first.destroy();
    expect(await eventually(() => d.connections === 2)).toBe(true);
    expect(await rawRequest(d.port)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('limits connections per client address', async () => {
    const d = await start({ maxConnections: 10, maxConnectionsPerIp: 2 });
    open.push(await sse(d.port), await sse(d.port));
    expect(await rawRequest(d.port)).toMatch(/^HTTP\/1\.1 503 /);
    // another address (all of 127/8 is loopback on Linux) has its own count
    expect(await rawRequest(d.port, '127.0.0.2')).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('still closes a client that trickles its request head (headers timeout, 408)', async () => {
    const d = await start({ headersTimeoutMs: 200 });
    const s = net.connect(d.port, '127.0.0.1', () => s.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
    open.push(s);
    s.on('error', () => {});
    let got = '';
    s.on('data', (c) => {
      got += c.toString('latin1');
    });
    await new Promise((r) => s.once('close', r));
    expect(got).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('takes the limits from the lab configuration', () => {
    const cfg = resolveLabConfig(configFromFile({ uiMaxConnections: 32, uiMaxConnectionsPerIp: 8 }));
    expect(cfg).toMatchObject({ uiMaxConnections: 32, uiMaxConnectionsPerIp: 8 });
    expect(() => resolveLabConfig({ uiMaxConnections: 0 })).toThrow(/uiMaxConnections/);
    expect(() => resolveLabConfig({ uiMaxConnectionsPerIp: 1.5 })).toThrow(/uiMaxConnectionsPerIp/);
  });
});

/** An event stream, open once its first comment has arrived. */
async function sse(port: number): Promise<{ destroy(): void; closed(): boolean }> {
  const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/events', agent: false });
  req.on('error', () => {});
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  expect(res.statusCode).toBe(200);
  let closed = false;
  res.socket.once('close', () => {
    closed = true;
  });
  await new Promise((r) => res.once('data', r));
  return { destroy: () => req.destroy(), closed: () => closed };
}

/** GET /livez on a fresh connection (from `localAddress`); the whole answer once the server closes. */
function rawRequest(port: number, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () =>
      s.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
    );
    let got = '';
    s.on('data', (c) => {
      got += c.toString('latin1');
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}
