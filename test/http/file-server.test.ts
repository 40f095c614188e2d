import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { resolveRequestPath } from '../../src/http/request-path.js';
import { run, startServe, tempDir } from '../helpers/net.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A raw request: node:http does not normalise the path, unlike fetch(). */
function get(
  port: number,
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: target, method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Offset of the first differing byte, -1 when equal (a better failure message than a boolean). */
function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Send raw bytes and collect everything until the server closes (or, with `until`, until it matches). */
function raw(port: number, text: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(text));
    let out = '';
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (until?.test(out)) s.destroy();
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

let dir: string;
let cleanup: () => Promise<void>;
let big: Buffer;
let server: FileServerHandle;
const traces: TraceEvent[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-fs-'));
  const root = path.join(dir, 'root');
  await mkdir(path.join(root, 'sub dir'), { recursive: true });
  await mkdir(path.join(root, 'site'));
  big = randomBytes(5 * 1024 * 1024 + 123);
  await writeFile(path.join(root, 'big.bin'), big);
  await writeFile(path.join(root, 'hello.txt'), 'hello, world\n');
  await writeFile(path.join(root, 'empty.bin'), '');
  await writeFile(path.join(root, 'sub dir', '<b>&"x".txt'), 'tricky');
  await writeFile(path.join(root, 'site', 'index.html'), '<h1>site</h1>');
  await writeFile(path.join(dir, 'secret.txt'), 'outside the root');
  await symlink(path.join(dir, 'secret.txt'), path.join(root, 'escape.txt'));
  await symlink(dir, path.join(root, 'escape-dir'));
  await symlink(path.join(root, 'hello.txt'), path.join(root, 'inside.txt'));
  await mkdir(path.join(root, 'idx-out'));
  await symlink(path.join(dir, 'secret.txt'), path.join(root, 'idx-out', 'index.html'));
  const t = new Date('2024-03-04T05:06:07Z');
  await utimes(path.join(root, 'hello.txt'), t, t);
  server = await createFileServer({ root, port: 0 });
  server.on('trace', (ev: TraceEvent) => traces.push(ev));
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

describe('file server: files', () => {
  it('serves a file with validators and Accept-Ranges', async () => {
    const r = await get(server.port, '/big.bin');
    expect(r.status).toBe(200);
    expect(r.body.equals(big)).toBe(true);
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    const h = await get(server.port, '/hello.txt');
    expect(h.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(h.headers['last-modified']).toBe('Mon, 04 Mar 2024 05:06:07 GMT');
    expect(h.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const r = await get(server.port, '/big.bin', {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(r.body.length).toBe(0);
    const rr = await get(server.port, '/big.bin', { range: 'bytes=0-9' }, 'HEAD');
    expect(rr.status).toBe(206);
    expect(rr.headers['content-length']).toBe('10');
  });

  it('serves an empty file', async () => {
    const r = await get(server.port, '/empty.bin', { range: 'bytes=0-0' });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
  });

  it('refuses other methods', async () => {
    const r = await get(server.port, '/hello.txt', {}, 'POST');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });
});

describe('file server: ranges', () => {
  it('answers a single range with 206 and Content-Range', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=100-199', 100, 199],
      ['bytes=-50', big.length - 50, big.length - 1],
      [`bytes=${big.length - 10}-`, big.length - 10, big.length - 1],
      ['bytes=0-0', 0, 0],
    ];
    for (const [range, start, end] of cases) {
      const r = await get(server.port, '/big.bin', { range });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${big.length}`);
      expect(r.body.equals(big.subarray(start, end + 1))).toBe(true);
    }
  });

  it('answers several ranges as multipart/byteranges', async () => {
    const r = await get(server.port, '/big.bin', { range: 'bytes=0-9,1000-1099,-5' });
    expect(r.status).toBe(206);
    const m = /^multipart\/byteranges; boundary=(\S+)$/.exec(r.headers['content-type']!);
    expect(m).not.toBeNull();
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    const parts = r.body.toString('latin1').split(`--${m![1]}`);
    expect(parts.at(-1)).toBe('--\r\n');
    const bodies = parts.slice(1, -1).map((p) => {
      const [head, data] = [p.slice(0, p.indexOf('\r\n\r\n')), p.slice(p.indexOf('\r\n\r\n') + 4)];
      return {
        range: /Content-Range: (.*)/.exec(head)![1],
        data: Buffer.from(data.replace(/\r\n$/, ''), 'latin1'),
      };
    });
    expect(bodies.map((b) => b.range)).toEqual([
      `bytes 0-9/${big.length}`,
      `bytes 1000-1099/${big.length}`,
      `bytes ${big.length - 5}-${big.length - 1}/${big.length}`,
    ]);
    expect(bodies[1]!.data.equals(big.subarray(1000, 1100))).toBe(true);
    expect(bodies[2]!.data.equals(big.subarray(big.length - 5))).toBe(true);
  });

  it('answers 416 with bytes */size when nothing is satisfiable', async () => {
    const r = await get(server.port, '/big.bin', { range: `bytes=${big.length}-` });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${big.length}`);
  });

  it('ignores an invalid Range header', async () => {
    const r = await get(server.port, '/hello.txt', { range: 'bytes=9-1' });
    expect(r.status).toBe(200);
  });

  it('applies If-Range only when the validator matches', async () => {
    const h = await get(server.port, '/hello.txt', {}, 'HEAD');
    const etag = h.headers.etag!;
    const lm = h.headers['last-modified']!;
    expect((await get(server.port, '/hello.txt', { range: 'bytes=0-4', 'if-range': etag })).status).toBe(206);
    expect((await get(server.port, '/hello.txt', { range: 'bytes=0-4', 'if-range': lm })).status).toBe(206);
    const stale = await get(server.port, '/hello.txt', { range: 'bytes=0-4', 'if-range': '"stale"' });
    expect(stale.status).toBe(200);
    expect(stale.body.toString()).toBe('hello, world\n');
    expect(
      (await get(server.port, '/hello.txt', { range: 'bytes=0-4', 'if-range': `W/${etag}` })).status,
    ).toBe(200);
  });

  it('answers 304 to If-None-Match and If-Modified-Since', async () => {
    const h = await get(server.port, '/hello.txt', {}, 'HEAD');
    const nm = await get(server.port, '/hello.txt', { 'if-none-match': h.headers.etag! });
    expect(nm.status).toBe(304);
    expect(nm.body.length).toBe(0);
    expect(nm.headers.etag).toBe(h.headers.etag);
    expect(
      (await get(server.port, '/hello.txt', { 'if-modified-since': h.headers['last-modified']! })).status,
    ).toBe(304);
    expect((await get(server.port, '/hello.txt', { 'if-none-match': '"nope"' })).status).toBe(200);
  });

  it('ignores an If-Range date when Last-Modified is weak (less than a second old)', async () => {
    const fresh = path.join(server.root, 'fresh.txt');
    await writeFile(fresh, 'fresh bytes');
    // a modification time ahead of the clock is as weak as one in the current second, and does not
    // depend on how fast this test runs
    const soon = new Date(Date.now() + 60_000);
    await utimes(fresh, soon, soon);
    const lm = (await get(server.port, '/fresh.txt', {}, 'HEAD')).headers['last-modified']!;
    const r = await get(server.port, '/fresh.txt', { range: 'bytes=0-4', 'if-range': lm });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('fresh bytes');
  });
});

describe('file server: preconditions (412)', () => {
  const cases: Array<[string, (etag: string) => Record<string, string>, number]> = [
    ['If-Match: another tag', () => ({ 'if-match': '"nope"' }), 412],
    ['If-Match: the weak form of the tag (strong comparison)', (etag) => ({ 'if-match': `W/${etag}` }), 412],
    ['If-Match: the tag', (etag) => ({ 'if-match': `"x", ${etag}` }), 200],
    ['If-Match: *', () => ({ 'if-match': '*' }), 200],
    [
      'If-Unmodified-Since before the file',
      () => ({ 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }),
      412,
    ],
    [
      'If-Unmodified-Since its Last-Modified',
      () => ({ 'if-unmodified-since': 'Mon, 04 Mar 2024 05:06:07 GMT' }),
      200,
    ],
    ['If-Unmodified-Since that is no date', () => ({ 'if-unmodified-since': 'yesterday' }), 200],
    // evaluation order (RFC 9110 §13.2.2): If-Match first, and If-Unmodified-Since only without it
    ['If-Match fails before If-None-Match: *', () => ({ 'if-match': '"nope"', 'if-none-match': '*' }), 412],
    [
      'If-Match passes, If-Unmodified-Since is not looked at',
      (etag) => ({ 'if-match': etag, 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }),
      200,
    ],
    [
      'If-Match passes, then If-None-Match gives 304',
      (etag) => ({ 'if-match': etag, 'if-none-match': etag }),
      304,
    ],
  ];
  for (const [name, headers, status] of cases) {
    it(`${name} → ${status}`, async () => {
      const etag = (await get(server.port, '/hello.txt', {}, 'HEAD')).headers.etag!;
      for (const method of ['GET', 'HEAD']) {
        const r = await get(server.port, '/hello.txt', headers(etag), method);
        expect(r.status, method).toBe(status);
        // with a Range too, the precondition is decided first
        const ranged = await get(server.port, '/hello.txt', { ...headers(etag), range: 'bytes=0-4' }, method);
        expect(ranged.status, `${method} with Range`).toBe(status === 200 ? 206 : status);
      }
    });
  }

  it('a 412 carries the validators and no body for HEAD', async () => {
    const r = await get(server.port, '/hello.txt', { 'if-match': '"nope"' });
    expect(r.headers.etag).toMatch(/^"/);
    expect(r.headers['last-modified']).toBe('Mon, 04 Mar 2024 05:06:07 GMT');
    const h = await get(server.port, '/hello.txt', { 'if-match': '"nope"' }, 'HEAD');
    expect(h.body.length).toBe(0);
  });
});

describe('file server: directories', () => {
  it('lists a directory as HTML with escaped names and a strict CSP', async () => {
    const r = await get(server.port, '/sub%20dir/');
    expect(r.status).toBe(200);
    const html = r.body.toString();
    expect(html).toContain('&lt;b&gt;&amp;&quot;x&quot;.txt');
    expect(html).not.toContain('<b>&');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    const file = await get(server.port, `/sub%20dir/${encodeURIComponent('<b>&"x".txt')}`);
    expect(file.body.toString()).toBe('tricky');
  });

  it('lists as JSON with ?format=json', async () => {
    const r = await get(server.port, '/?format=json');
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const j = JSON.parse(r.body.toString());
    expect(j.path).toBe('/');
    const dirs = j.entries
      .filter((e: { type: string }) => e.type === 'directory')
      .map((e: { name: string }) => e.name);
    expect(dirs).toEqual(['idx-out', 'site', 'sub dir']);
    expect(j.entries.slice(0, 3).map((e: { name: string }) => e.name)).toEqual(dirs);
    const entry = (name: string) => j.entries.find((e: { name: string }) => e.name === name);
    expect(entry('big.bin')).toMatchObject({ type: 'file', size: big.length });
    expect(j.truncated).toBeUndefined();
    // a link inside the root is described as its target...
    expect(entry('inside.txt')).toMatchObject({ type: 'file', size: 13 });
    // ...one leading out of it says nothing about what is outside
    expect(entry('escape.txt')).toEqual({ name: 'escape.txt', type: 'other' });
    expect(entry('escape-dir')).toEqual({ name: 'escape-dir', type: 'other' });
    const html = (await get(server.port, '/')).body.toString();
    expect(html).toContain('escape-dir</a></td><td>-</td><td>-</td>');
  });

  it('says when a listing is cut at the entry limit, and shows the first names', async () => {
    const { dir: own, cleanup: done } = await tempDir('netkit-fs-many-');
    for (const name of ['e', 'b', 'g', 'a', 'f', 'c', 'd']) await writeFile(path.join(own, name), name);
    const s = await createFileServer({ root: own, port: 0, maxListingEntries: 2 });
    try {
      const j = JSON.parse((await get(s.port, '/?format=json')).body.toString());
      expect(j.truncated).toBe(true);
      expect(j.total).toBe(7);
      expect(j.entries.map((e: { name: string }) => e.name)).toEqual(['a', 'b']);
      const html = (await get(s.port, '/')).body.toString();
      expect(html).toContain('… 5 more entries not shown');
    } finally {
      await s.close();
      await done();
    }
  });

  it('redirects a directory without its slash, and serves index.html', async () => {
    const r = await get(server.port, '/site?x=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/site/?x=1');
    // an open-redirect attempt stays on this host
    const evil = await get(server.port, '//sub%20dir');
    expect(evil.headers.location).toBe('/sub%20dir/');
    const idx = await get(server.port, '/site/');
    expect(idx.body.toString()).toBe('<h1>site</h1>');
    expect(idx.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('serves a root that is the file-system root', async () => {
    const s = await createFileServer({ root: '/', port: 0 });
    try {
      const target = `${server.root.split(path.sep).map(encodeURIComponent).join('/')}/hello.txt`;
      const r = await get(s.port, target);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('hello, world\n');
      expect((await get(s.port, `${path.dirname(target)}/`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('file server: path jail', () => {
  const cases: Array<[string, number]> = [
    ['/../secret.txt', 403],
    ['/%2e%2e/secret.txt', 403],
    ['/sub%20dir/%2E%2E/%2e%2e/secret.txt', 403],
    ['/sub%20dir%2f..%2f..%2fsecret.txt', 403],
    ['/..%5c..%5csecret.txt', 404],
    ['/%252e%252e/secret.txt', 404],
    ['/hello.txt%00.png', 400],
    ['/%E0%A4%A', 400],
    ['/escape.txt', 403],
    ['/escape-dir/secret.txt', 403],
    ['/escape-dir/', 403],
    // a directory's index.html is jailed like any other path
    ['/idx-out/', 403],
    ['/idx-out/index.html', 403],
    ['/inside.txt', 200],
    ['//hello.txt', 200],
    ['/./hello.txt', 200],
    // dot-segments that stay inside the root are resolved (RFC 3986 §5.2.4)
    ['/sub%20dir/../hello.txt', 200],
    ['/sub%20dir/%2e%2e/hello.txt', 200],
    ['/site/./../sub%20dir/..//hello.txt', 200],
    ['/sub%20dir/..', 200],
    ['/site/../../secret.txt', 403],
    // a file is not a directory
    ['/hello.txt/', 404],
    ['/hello.txt/.', 404],
    ['/nope', 404],
  ];
  for (const [target, status] of cases) {
    it(`${target} → ${status}`, async () => {
      const r = await get(server.port, target);
      expect(r.status).toBe(status);
      expect(r.body.toString()).not.toContain('outside the root');
    });
  }

  it('resolveRequestPath takes the path and query of an absolute-form target (RFC 9112 §3.2.2)', async () => {
    expect(await resolveRequestPath(server.root, 'http://x/sub%20dir/?a=1')).toMatchObject({
      ok: true,
      segments: ['sub dir'],
      trailingSlash: true,
      query: 'a=1',
    });
    expect(await resolveRequestPath(server.root, 'HTTPS://x:8080')).toMatchObject({ ok: true, segments: [] });
    expect(await resolveRequestPath(server.root, 'http://x?q')).toMatchObject({ ok: true, query: 'q' });
    // decoded and normalised like any path: no way around the jail
    expect(await resolveRequestPath(server.root, 'http://x/%2e%2e/secret.txt')).toMatchObject({
      status: 403,
    });
  });

  it('resolveRequestPath refuses a target that is not a path', async () => {
    expect(await resolveRequestPath(server.root, 'ftp://x/y')).toMatchObject({ ok: false, status: 400 });
    expect(await resolveRequestPath(server.root, '*')).toMatchObject({ ok: false, status: 400 });
  });
});

describe('file server: bad input and limits', () => {
  it('answers garbage with 400 and a huge header with 431', async () => {
    expect(await raw(server.port, 'HELLO\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const huge = `GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`;
    expect(await raw(server.port, huge)).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('answers 408 and closes when a request head trickles in slower than --headers-timeout (slowloris)', async () => {
    const slow = await createFileServer({
      root: server.root,
      port: 0,
      headersTimeoutMs: 300,
      idleTimeoutMs: 20_000,
    });
    try {
      const s = net.connect({ port: slow.port, host: '127.0.0.1' });
      s.on('error', () => {});
      const head = 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(1000);
      let i = 0;
      // one byte every 20 ms: each byte resets the idle timer; only the head's own deadline ends it
      const drip = setInterval(() => {
        if (s.writable) s.write(head[i++ % head.length]!);
      }, 20);
      let answer = '';
      s.on('data', (d: Buffer) => {
        answer += d.toString('latin1');
      });
      const started = Date.now();
      await new Promise((r) => s.once('close', r));
      clearInterval(drip);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await slow.close();
    }
  });

  it('answers 414 to a request line that alone is too long', async () => {
    const long = `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    expect(await raw(server.port, long)).toMatch(/^HTTP\/1\.1 414 /);
    // behind another request in the same packet too
    const second = `GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n${long}`;
    expect(await raw(server.port, second)).toMatch(/HTTP\/1\.1 414 /);
  });

  it('answers 501 to a method it does not know, 405 to CONNECT', async () => {
    expect(await raw(server.port, 'FOO /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 501 Not Implemented\r\n/,
    );
    const connect = await raw(server.port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    expect(connect).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(connect).toContain('\r\nAllow: GET, HEAD\r\n');
  });

  it('survives clients that reset right after a CONNECT request', async () => {
    // writing the 405 to a reset socket fails; node:http no longer listens for that socket's
    // errors after 'connect', so the error used to be unhandled and crashed the server
    for (let i = 0; i < 20; i++) {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.write('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
      s.resetAndDestroy();
    }
    expect(
      await raw(server.port, 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    ).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers 505 to an HTTP major version other than 1', async () => {
    const r = await raw(server.port, 'GET /hello.txt HTTP/2.0\r\nHost: localhost\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 505 HTTP Version Not Supported\r\n/);
  });

  it('answers 400 to more than one Host header', async () => {
    const r = await raw(server.port, 'GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 400 /);
    expect(r).not.toContain('hello, world');
  });

  it('answers 400 to an HTTP/1.1 request without Host, saying why, and traces it', async () => {
    // node:http used to answer it by itself: an empty chunked 400 that --trace never showed
    const r = await raw(server.port, 'GET /hello.txt?no-host HTTP/1.1\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(r).toContain('Connection: close\r\n');
    expect(r).toMatch(/\r\n\r\nBad Request: an HTTP\/1\.1 request needs a Host header\n$/);
    expect(traces.map((t) => t.text)).toContain('GET /hello.txt?no-host HTTP/1.1');
    // HTTP/1.0 has no Host to require
    const old = await raw(server.port, 'GET /hello.txt HTTP/1.0\r\n\r\n');
    expect(old).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers 400 and closes on Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: no smuggling)', async () => {
    // an HTTP/1.0 proxy sees no body here, so to it the chunked "body" and the GET after it are
    // one request; this server must not answer a second one (nginx answers 400 too)
    const r = await raw(
      server.port,
      'GET /hello.txt HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' +
        'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(r).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.match(/^HTTP\/1\.1 /gm)).toHaveLength(1);
    expect(r).not.toContain('hello, world');
  });

  it('answers 400 to a Host, or an absolute-form authority, that is not host[:port]', async () => {
    // "[::1" passed the loopback check and was served; so were port 99999 and an empty Host
    for (const [target, host] of [
      ['/hello.txt', '[::1'],
      ['/hello.txt', 'localhost:99999'],
      ['/hello.txt', ''],
      ['/hello.txt', 'localhost;x'],
      ['http://[::1/hello.txt', '127.0.0.1'],
      ['http://127.0.0.1:99999/hello.txt', '127.0.0.1'],
    ]) {
      const r = await raw(
        server.port,
        `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(r, `${target} ${host}`).toMatch(/^HTTP\/1\.1 400 [\s\S]*\r\n\r\nBad Request: malformed Host\n$/);
    }
  });

  it('serves an absolute-form request target', async () => {
    const r = await raw(
      server.port,
      'GET http://127.0.0.1/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(r).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nhello, world\n$/);
    const dir = await raw(
      server.port,
      'GET http://localhost/site?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(dir).toMatch(/^HTTP\/1\.1 301 [\s\S]*\r\nLocation: \/site\/\?x=1\r\n/);
  });

  it('answers only loopback host names on loopback: no file reaches a DNS-rebinding page', async () => {
    const get = (host: string, target = '/hello.txt') =>
      raw(server.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    for (const host of [
      'evil.example',
      `evil.example:${server.port}`,
      '10.0.0.1',
      'localhost.evil.example',
    ]) {
      const r = await get(host);
      expect(r, host).toMatch(/^HTTP\/1\.1 403 /);
      expect(r).not.toContain('hello, world');
    }
    // the absolute-form target's authority is what counts, not a loopback Host beside it
    expect(await get('127.0.0.1', 'http://evil.example/hello.txt')).toMatch(/^HTTP\/1\.1 403 /);
    for (const host of ['127.0.0.1', `localhost:${server.port}`, 'app.localhost', '[::1]:8080', '127.1.2.3'])
      expect(await get(host), host).toMatch(/^HTTP\/1\.1 200 [\s\S]*hello, world\n$/);
  });

  it('--allowed-host names (or *) are answered too', async () => {
    const named = await createFileServer({ root: server.root, port: 0, allowedHosts: ['App.Test'] });
    const any = await createFileServer({ root: server.root, port: 0, allowedHosts: ['*'] });
    try {
      const get = (port: number, host: string) =>
        raw(port, `GET /hello.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(await get(named.port, `app.test:${named.port}`)).toMatch(/^HTTP\/1\.1 200 /);
      expect(await get(named.port, 'other.test')).toMatch(/^HTTP\/1\.1 403 /);
      expect(await get(any.port, 'other.test')).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      await Promise.all([named.close(), any.close()]);
    }
  });

  it('sends 100 Continue only to a request it will serve', async () => {
    // the refused POST's body never comes: the final status is sent at once, then the connection closes
    const post = await raw(
      server.port,
      'POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n',
      /\r\n\r\nMethod Not Allowed\n/,
    );
    expect(post).toMatch(/^HTTP\/1\.1 405 /);
    expect(post).not.toContain('100 Continue');
    const getIt = await raw(
      server.port,
      'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
    );
    expect(getIt).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*hello, world\n$/);
  });

  it('traces request lines and statuses', async () => {
    const status = 'HTTP/1.1 206 Partial Content bytes 0-1/13';
    const seen = new Promise<void>((resolve) => {
      const on = (ev: TraceEvent) => {
        if (ev.text !== status) return;
        server.off('trace', on);
        resolve();
      };
      server.on('trace', on);
    });
    await get(server.port, '/hello.txt', { range: 'bytes=0-1' });
    await seen;
    expect(traces.map((t) => t.text)).toContain('GET /hello.txt HTTP/1.1 [Range: bytes=0-1]');
    expect(traces.some((t) => t.kind === 'connect' && t.peer?.startsWith('127.0.0.1:'))).toBe(true);
  });

  it('noRange behaves like a server without Range support', async () => {
    const s = await createFileServer({ root: server.root, noRange: true });
    try {
      const r = await get(s.port, '/big.bin', { range: 'bytes=0-9' });
      expect(r.status).toBe(200);
      expect(r.headers['accept-ranges']).toBeUndefined();
      expect(r.body.length).toBe(big.length);
    } finally {
      await s.close();
    }
  });

  it('rateLimit paces each connection', async () => {
    const s = await createFileServer({ root: server.root, rateLimit: 1024 * 1024 });
    try {
      const t0 = performance.now();
      const r = await get(s.port, '/big.bin', { range: 'bytes=0-524287' });
      const seconds = (performance.now() - t0) / 1000;
      expect(r.body.equals(big.subarray(0, 524288))).toBe(true);
      // 512 KiB at 1 MiB/s: half a second, minus the initial burst (at most 64 KiB)
      expect(seconds).toBeGreaterThan(0.4);
      expect(seconds).toBeLessThan(3);
    } finally {
      await s.close();
    }
  });

  it('refuses a missing root', async () => {
    await expect(createFileServer({ root: path.join(dir, 'nope') })).rejects.toMatchObject({
      code: 'NETKIT_NOT_FOUND',
    });
  });
});

describe('file server: a file cut short while it is sent', () => {
  it('destroys the connection instead of ending a short body on a kept-alive one', async () => {
    const { dir: own, cleanup: done } = await tempDir('netkit-fs-shrink-');
    // a short keep-alive timeout, so that without the fix the test fails instead of hanging
    const s = await createFileServer({ root: own, port: 0, keepAliveTimeoutMs: 500 });
    try {
      const size = 32 * 1024 * 1024; // far more than the loopback socket buffers hold
      const file = path.join(own, 'shrinks.bin');
      await writeFile(file, Buffer.alloc(size, 7));
      await writeFile(path.join(own, 'next.txt'), 'next');
      const sock = net.connect(s.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      const first = new Promise<void>((resolve) => sock.once('data', () => resolve()));
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('error', () => {});
      // a second request waits on the same connection behind the first
      sock.write(
        'GET /shrinks.bin HTTP/1.1\r\nHost: localhost\r\n\r\nGET /next.txt HTTP/1.1\r\nHost: localhost\r\n\r\n',
      );
      await first;
      sock.pause(); // the server stalls on backpressure with most of the file unread...
      await truncate(file, 0); // ...which is then gone
      sock.resume();
      await closed;
      const got = Buffer.concat(chunks).toString('latin1');
      expect(got).toMatch(new RegExp(`^HTTP/1\\.1 200 OK\r\n[\\s\\S]*Content-Length: ${size}\r\n`));
      expect(got.length - got.indexOf('\r\n\r\n') - 4).toBeLessThan(size);
      // the next response was never spliced into the body
      expect(got.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    } finally {
      await s.close(0);
      await done();
    }
  });
});

describe('file server: a client that stops reading', () => {
  it('loses its connection after the idle timeout; the server keeps serving others', async () => {
    const { dir: own, cleanup: done } = await tempDir('netkit-fs-idle-');
    const idle = await createFileServer({ root: own, port: 0, idleTimeoutMs: 300 });
    try {
      // far more than the loopback socket buffers hold, so the response stalls
      await writeFile(path.join(own, 'huge.bin'), Buffer.alloc(64 * 1024 * 1024, 7));
      const events: TraceEvent[] = [];
      idle.on('trace', (ev: TraceEvent) => events.push(ev));
      const stalled = net.connect(idle.port, '127.0.0.1');
      stalled.on('error', () => {});
      stalled.pause(); // never reads a byte of the body
      stalled.write('GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const isStalled = (conn: number) =>
        events.some((e) => e.conn === conn && e.kind === 'in' && e.text.startsWith('GET /huge.bin'));
      // the server closes the stalled connection by itself (nothing here closes it)
      const gone = new Promise<void>((resolve) => {
        idle.on('trace', (ev: TraceEvent) => {
          if (ev.kind === 'disconnect' && isStalled(ev.conn)) resolve();
        });
      });
      const served = await fetch(`http://127.0.0.1:${idle.port}/`);
      expect(served.status).toBe(200);
      await served.text();
      await gone;
      stalled.destroy();
    } finally {
      await idle.close(0);
      await done();
    }
  });
});

describe('file server: interop with curl, aria2c and Python urllib', () => {
  it('Python urllib.request: a file byte-identical, a Range, a 304 revalidation, a listing, a 404', async () => {
    const script = `
import hashlib, json, sys, urllib.error, urllib.request
base = sys.argv[1]
out = {}
with urllib.request.urlopen(base + 'big.bin') as r:
    out['status'] = r.status
    out['sha256'] = hashlib.sha256(r.read()).hexdigest()
    etag = r.headers['ETag']
req = urllib.request.Request(base + 'big.bin', headers={'Range': 'bytes=10-19'})
with urllib.request.urlopen(req) as r:
    out['range'] = [r.status, r.headers['Content-Range'], r.read().hex()]
try:
    urllib.request.urlopen(urllib.request.Request(base + 'big.bin', headers={'If-None-Match': etag}))
    out['revalidate'] = 'no error'
except urllib.error.HTTPError as e:
    out['revalidate'] = e.code
with urllib.request.urlopen(base + 'sub%20dir/') as r:
    out['listing'] = r.read().decode()
try:
    urllib.request.urlopen(base + 'missing.txt')
except urllib.error.HTTPError as e:
    out['missing'] = e.code
print(json.dumps(out))
`;
    const r = await run('/usr/bin/python3', ['-c', script, server.url]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe(200);
    expect(out.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    expect(out.range).toEqual([206, `bytes 10-19/${big.length}`, big.subarray(10, 20).toString('hex')]);
    expect(out.revalidate).toBe(304);
    expect(out.listing).toContain('&lt;b&gt;&amp;&quot;x&quot;.txt');
    expect(out.missing).toBe(404);
  });

  it('curl downloads the whole file and honours -r', async () => {
    const out = path.join(dir, 'curl-full.bin');
    const full = await run('curl', ['-sS', '-o', out, `${server.url}big.bin`]);
    expect(full.code).toBe(0);
    expect((await readFile(out)).equals(big)).toBe(true);
    const part = await run('curl', ['-sS', '-r', '100-199', `${server.url}big.bin`]);
    expect(part.code).toBe(0);
    expect(part.stdoutBuf.equals(big.subarray(100, 200))).toBe(true);
    const head = await run('curl', ['-sS', '-I', '-r', '100-199', `${server.url}big.bin`]);
    expect(head.stdout).toMatch(/^HTTP\/1\.1 206 /);
    expect(head.stdout).toContain(`Content-Range: bytes 100-199/${big.length}`);
  });

  it('curl resumes with -C - (a Range from the size it has)', async () => {
    const out = path.join(dir, 'curl-resume.bin');
    await writeFile(out, big.subarray(0, 1_000_000));
    const r = await run('curl', ['-sS', '-C', '-', '-o', out, `${server.url}big.bin`]);
    expect(r.code).toBe(0);
    expect((await readFile(out)).equals(big)).toBe(true);
  });

  it('aria2c -x4 downloads over four ranged connections, byte-identical', async () => {
    // the answers that carried a part of the file: aria2c asks for the first part with or without a
    // Range (a 200 it cuts off, then 206s), so -s4 makes four of them whatever the machine's speed
    const seen: string[] = [];
    const onTrace = (ev: TraceEvent) => {
      if (ev.kind === 'out' && /^HTTP\/1\.1 20[06] /.test(ev.text)) seen.push(ev.text);
    };
    server.on('trace', onTrace);
    try {
      const r = await run(
        'aria2c',
        [
          '--no-conf',
          '-x4',
          '-s4',
          '-k1M',
          '--allow-overwrite=true',
          '--auto-file-renaming=false',
          '--file-allocation=none',
          '--console-log-level=warn',
          '--summary-interval=0',
          '-d',
          dir,
          '-o',
          'aria.bin',
          `${server.url}big.bin`,
        ],
        { timeoutMs: 20_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      const got = await readFile(path.join(dir, 'aria.bin'));
      expect(got.length).toBe(big.length);
      expect(firstDifference(got, big), r.stdout).toBe(-1);
      expect(seen.length).toBeGreaterThanOrEqual(4);
      const ranges = seen.filter((t) => t.startsWith('HTTP/1.1 206'));
      expect(ranges.length).toBeGreaterThanOrEqual(2);
      expect(ranges.every((t) => t.includes(`/${big.length}`))).toBe(true);
    } finally {
      server.off('trace', onTrace);
    }
  });

  it('the CLI serves a directory (netkit http serve --port 0 --json)', async () => {
    const srv = await startServe(['http', 'serve', server.root, '--port', '0']);
    try {
      expect(srv.listening[0]).toMatchObject({ service: 'http', host: '127.0.0.1', tls: false });
      const r = await run('curl', [
        '-sS',
        '-r',
        '0-4',
        `http://127.0.0.1:${srv.listening[0]!.port}/hello.txt`,
      ]);
      expect(r.stdout).toBe('hello');
    } finally {
      await srv.stop();
    }
  });
});

describe('file server: the data directory inside the root', () => {
  it('http serve . never serves or lists ./netkit-data (TLS key, accounts), the rest as usual', async () => {
    const { dir: site, cleanup: done } = await tempDir('netkit-fs-data-');
    try {
      await mkdir(path.join(site, 'netkit-data', 'tls'), { recursive: true });
      await writeFile(path.join(site, 'netkit-data', 'tls', 'dev-key.pem'), 'PRIVATE KEY');
      await writeFile(path.join(site, 'netkit-data', 'accounts.json'), '{"bob":"scrypt$…"}');
      await writeFile(path.join(site, 'page.txt'), 'public');
      await symlink(path.join(site, 'netkit-data'), path.join(site, 'alias'));
      // HTTPS too: the certificate made in the data directory is the one in use
      const serve = await startServe(['http', 'serve', '.', '--port', '0', '--tls-port', '0'], 2, {
        cwd: site,
        env: { NETKIT_DATA: undefined },
      });
      try {
        const port = serve.listening.find((l) => !l.tls)!.port;
        for (const target of [
          '/netkit-data/tls/dev-key.pem',
          '/netkit-data/tls/dev-cert.pem',
          '/netkit-data/accounts.json',
          '/netkit-data/',
          '/alias/accounts.json',
          '/%6eetkit-data/accounts.json',
        ]) {
          const r = await get(port, target);
          expect([target, r.status]).toEqual([target, 403]);
          expect(r.body.toString()).not.toMatch(/PRIVATE KEY|scrypt|CERTIFICATE/);
        }
        expect((await get(port, '/page.txt')).body.toString()).toBe('public');
        const listing = JSON.parse((await get(port, '/?format=json')).body.toString()) as {
          entries: Array<{ name: string; type: string }>;
        };
        expect(listing.entries.map((e) => e.name).sort()).toEqual(['alias', 'page.txt']);
        expect(listing.entries.find((e) => e.name === 'alias')?.type).toBe('other');
      } finally {
        await serve.stop();
      }
    } finally {
      await done();
    }
  });
});

describe('file server: the data directory as the root', () => {
  it('serves what it was asked to but never the accounts file or tls/; a root inside tls/ serves nothing', async () => {
    const { dir: data, cleanup: done } = await tempDir('netkit-fs-dataroot-');
    try {
      await mkdir(path.join(data, 'tls'));
      await writeFile(path.join(data, 'tls', 'dev-key.pem'), 'PRIVATE KEY');
      await writeFile(path.join(data, 'accounts.json'), '{"bob":"scrypt$…"}');
      await mkdir(path.join(data, 'mail', 'bob', 'new'), { recursive: true });
      await writeFile(path.join(data, 'mail', 'bob', 'new', '1.eml'), 'Subject: hi');
      const s = await createFileServer({ root: data, port: 0, dataDir: data });
      try {
        for (const target of ['/accounts.json', '/tls/', '/tls/dev-key.pem', '/%74ls/dev-key.pem']) {
          const r = await get(s.port, target);
          expect([target, r.status]).toEqual([target, 403]);
          expect(r.body.toString()).not.toMatch(/PRIVATE KEY|scrypt/);
        }
        expect((await get(s.port, '/mail/bob/new/1.eml')).body.toString()).toBe('Subject: hi');
        const listing = JSON.parse((await get(s.port, '/?format=json')).body.toString()) as {
          entries: Array<{ name: string }>;
        };
        expect(listing.entries.map((e) => e.name)).toEqual(['mail']);
      } finally {
        await s.close();
      }
      const t = await createFileServer({ root: path.join(data, 'tls'), port: 0, dataDir: data });
      try {
        for (const target of ['/', '/dev-key.pem']) expect((await get(t.port, target)).status).toBe(403);
      } finally {
        await t.close();
      }
    } finally {
      await done();
    }
  });
});

describe('file server: a root strictly inside DATA/tls/ (the rule ftp serve follows too)', () => {
  it('serves nothing: 403 for the root, its files and listings, as before the rule was shared', async () => {
    const { dir: data, cleanup: done } = await tempDir('netkit-fs-tlssub-');
    try {
      await mkdir(path.join(data, 'tls', 'site', 'docs'), { recursive: true });
      await writeFile(path.join(data, 'tls', 'dev-key.pem'), 'PRIVATE KEY');
      await writeFile(path.join(data, 'tls', 'site', 'page.txt'), 'public?');
      const s = await createFileServer({ root: path.join(data, 'tls', 'site'), port: 0, dataDir: data });
      try {
        for (const target of ['/', '/?format=json', '/page.txt', '/docs/', '/../dev-key.pem']) {
          const r = await get(s.port, target);
          expect([target, r.status]).toEqual([target, 403]);
          expect(r.body.toString()).not.toMatch(/PRIVATE KEY|public\?|page\.txt/);
        }
      } finally {
        await s.close();
      }
    } finally {
      await done();
    }
  });
});

describe('file server: --cert/--key inside the root', () => {
  it('http serve . --cert … --key … never serves or lists them, over HTTP or HTTPS', async () => {
    const { dir: site, cleanup: done } = await tempDir('netkit-fs-keys-');
    try {
      const pair = await generateDevCertificate();
      await mkdir(path.join(site, 'certs'));
      await writeFile(path.join(site, 'certs', 'key.pem'), pair.key, { mode: 0o600 });
      await writeFile(path.join(site, 'cert.pem'), pair.cert);
      await writeFile(path.join(site, 'page.txt'), 'public');
      await symlink('certs/key.pem', path.join(site, 'key-link'));
      const serve = await startServe(
        [
          'http',
          'serve',
          '.',
          '--port',
          '0',
          '--tls-port',
          '0',
          '--cert',
          'cert.pem',
          '--key',
          'certs/key.pem',
        ],
        2,
        { cwd: site, env: { NETKIT_DATA: undefined } },
      );
      try {
        const port = serve.listening.find((l) => !l.tls)!.port;
        const tlsPort = serve.listening.find((l) => l.tls)!.port;
        const targets = [
          '/certs/key.pem',
          '/certs/./key.pem',
          '/certs/%6bey.pem',
          '/page.txt/../certs/key.pem',
          '/cert.pem',
          '/key-link',
        ];
        for (const target of targets) {
          for (const method of ['GET', 'HEAD']) {
            const r = await get(port, target, {}, method);
            expect([method, target, r.status]).toEqual([method, target, 403]);
            expect(r.body.toString()).not.toMatch(/PRIVATE KEY|CERTIFICATE/);
          }
        }
        expect((await get(port, '/page.txt')).body.toString()).toBe('public');
        const names = async (dir: string) =>
          (
            JSON.parse((await get(port, `${dir}?format=json`)).body.toString()) as {
              entries: Array<{ name: string; type: string }>;
            }
          ).entries;
        const top = await names('/');
        expect(top.map((e) => e.name).sort()).toEqual(['certs', 'key-link', 'page.txt']);
        // a link to the key is not described (no size, no date), as a link into the data directory
        expect(top.find((e) => e.name === 'key-link')).toEqual({ name: 'key-link', type: 'other' });
        expect(await names('/certs/')).toEqual([]);
        const html = (await get(port, '/certs/')).body.toString();
        expect(html).not.toContain('key.pem');
        // HTTPS, with that very pair: curl (an independent client) gets the page, not the key
        const curl = (target: string) =>
          run('curl', [
            '-sk',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            `https://127.0.0.1:${tlsPort}${target}`,
          ]);
        expect((await curl('/page.txt')).stdout).toBe('200');
        for (const target of ['/certs/key.pem', '/cert.pem', '/key-link'])
          expect([target, (await curl(target)).stdout]).toEqual([target, '403']);
      } finally {
        await serve.stop();
      }
    } finally {
      await done();
    }
  });
});
