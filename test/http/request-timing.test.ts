/**
 * What HttpClient reports for curl's -w: phase timings (request-timing.ts), the connection's
 * addresses, connections opened, bytes sent; and the Referer of -e / -e ';auto' across redirects.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/http/request.js';
import { addHop, type ConnectionRecord, connectionFor, emptyTimings } from '../../src/http/request-timing.js';

let server: http.Server;
let origin: string;
let port: number;
const referers: Array<string | undefined> = [];

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    for await (const _ of req);
    referers.push(req.headers.referer);
    if (req.url === '/hop') {
      res.writeHead(302, { Location: '/end', 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

describe('HttpClient timings and connection', () => {
  it('reports ordered phases, the addresses, one new connection, then a reused one', async () => {
    const client = new HttpClient();
    try {
      const before = client.bytesWritten();
      const res = await client.request({ url: `${origin}/x`, body: 'hello' });
      await res.body.text();
      const t = res.timings;
      expect(t.namelookupMs).toBeGreaterThanOrEqual(0);
      expect(t.connectMs).toBeGreaterThan(0);
      expect(t.connectMs).toBeGreaterThanOrEqual(t.namelookupMs);
      expect(t.pretransferMs).toBeGreaterThanOrEqual(t.connectMs);
      expect(t.starttransferMs).toBeGreaterThanOrEqual(t.pretransferMs);
      expect(t.appconnectMs).toBe(0);
      expect(t.redirectMs).toBe(0);
      expect(res.connection).toMatchObject({
        remoteAddress: '127.0.0.1',
        remotePort: port,
        localAddress: '127.0.0.1',
      });
      expect(res.connection!.localPort).toBeGreaterThan(0);
      expect(res.connects).toBe(1);
      expect(res.uploadBytes).toBe(5);
      // the request line, the headers and the body went out on the socket
      expect(client.bytesWritten() - before).toBeGreaterThan(5 + 'POST /x HTTP/1.1\r\n'.length);
    } finally {
      await client.close();
    }
  });

  it('sums the phases over redirects and notes when the last redirect was followed', async () => {
    const client = new HttpClient({ followRedirects: true });
    try {
      const res = await client.request({ url: `${origin}/hop` });
      await res.body.text();
      expect(res.redirects).toHaveLength(1);
      // the second hop went over the first one's connection (keep-alive), as curl's would
      expect(res.connects).toBe(1);
      expect(res.timings.redirectMs).toBeGreaterThan(0);
      expect(res.timings.starttransferMs).toBeGreaterThan(res.timings.redirectMs / 2);
    } finally {
      await client.close();
    }
  });
});

describe('Referer (-e, -e ";auto")', () => {
  async function sent(options: {
    referer?: string;
    autoReferer?: boolean;
    headers?: Array<[string, string]>;
  }) {
    referers.length = 0;
    const client = new HttpClient({ followRedirects: true });
    try {
      const res = await client.request({ url: `${origin}/hop`, ...options });
      await res.body.text();
      return { referers: [...referers], last: res.referer };
    } finally {
      await client.close();
    }
  }

  it('a fixed referer goes with every hop', async () => {
    expect(await sent({ referer: 'http://start/' })).toEqual({
      referers: ['http://start/', 'http://start/'],
      last: 'http://start/',
    });
  });
  it(';auto sends the page redirected from on the next hop', async () => {
    expect(await sent({ referer: 'http://start/', autoReferer: true })).toEqual({
      referers: ['http://start/', `${origin}/hop`],
      last: `${origin}/hop`,
    });
    expect(await sent({ autoReferer: true })).toEqual({
      referers: [undefined, `${origin}/hop`],
      last: `${origin}/hop`,
    });
  });
  it('a Referer header of the caller wins; an empty one removes it', async () => {
    expect(
      (await sent({ referer: 'http://start/', headers: [['Referer', 'http://mine/']] })).referers,
    ).toEqual(['http://mine/', 'http://mine/']);
    expect((await sent({ referer: 'http://start/', headers: [['Referer', '']] })).referers).toEqual([
      undefined,
      undefined,
    ]);
  });
  it('a referer that would split the header is refused before anything is sent', async () => {
    const client = new HttpClient();
    const before = referers.length;
    await expect(
      client.request({ url: `${origin}/x`, referer: 'http://a/\r\nX-Evil: 1' }),
    ).rejects.toMatchObject({
      code: 'NETKIT_USAGE',
    });
    expect(referers.length).toBe(before);
    await client.close();
  });
});

describe('addHop and connectionFor (pure)', () => {
  const record = (over: Partial<ConnectionRecord>): ConnectionRecord => ({
    origin: 'http://h:80',
    startedAt: 10,
    ...over,
  });

  it('a fresh connection counts its set-up from the hop start; a reused one counts none', () => {
    const t = emptyTimings(0);
    const fresh = record({ startedAt: 12, lookupAt: 13, connectAt: 15, readyAt: 15 });
    addHop(t, 10, 20, { record: fresh, fresh: true }, false);
    expect(t).toMatchObject({
      namelookupMs: 3,
      connectMs: 5,
      appconnectMs: 0,
      pretransferMs: 5,
      starttransferMs: 10,
    });
    addHop(t, 30, 34, { record: fresh, fresh: false }, false);
    expect(t).toMatchObject({ namelookupMs: 3, connectMs: 5, pretransferMs: 5, starttransferMs: 14 });
    const tls = emptyTimings(0);
    addHop(tls, 0, 9, { record: record({ startedAt: 0, connectAt: 2, readyAt: 6 }), fresh: true }, true);
    expect(tls).toMatchObject({ connectMs: 2, appconnectMs: 6, pretransferMs: 6, starttransferMs: 9 });
  });

  it('finds the connection made for a hop, else the newest of its origin', () => {
    const old = record({ startedAt: 1, readyAt: 2 });
    const other = record({ origin: 'http://o:80', startedAt: 11, readyAt: 12 });
    const made = record({ startedAt: 11, readyAt: 13 });
    expect(connectionFor([old, other, made], 'http://h:80', 10)).toEqual({ record: made, fresh: true });
    expect(connectionFor([old, other], 'http://h:80', 10)).toEqual({ record: old, fresh: false });
    expect(connectionFor([other], 'http://h:80', 10)).toBeUndefined();
  });
});
