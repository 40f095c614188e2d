/**
 * A loopback HTTP server for the curl-flag tests of `netkit http` (-r, -C, -O, --retry, -e, -w,
 * --limit-rate, --max-filesize), the same for netkit and for curl: a file served with byte ranges (one range; a
 * list of them gets the whole file, as many servers do), the same file from a server that ignores
 * Range, redirects (to anywhere, too), 103 Early Hints, trailers, statuses that fail a number of times before succeeding (counted per key, so
 * netkit and curl each get their own), and every request logged.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface Logged {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface CurlFlagsServer {
  origin: string;
  port: number;
  /** the bytes of /file and /norange */
  data: Buffer;
  requests: Logged[];
  /** the requests whose path starts with `prefix` */
  count(prefix: string): number;
  close(): Promise<void>;
}

export const FILE_SIZE = 1000;

export async function startCurlFlagsServer(): Promise<CurlFlagsServer> {
  const data = Buffer.alloc(FILE_SIZE);
  for (let i = 0; i < FILE_SIZE; i++) data[i] = (i * 7 + 3) & 0xff;
  const big = Buffer.alloc(48 * 1024, 'x');
  const requests: Logged[] = [];
  const failures = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    for await (const _ of req); // a POST body is read and dropped
    requests.push({ method: req.method!, url: req.url!, headers: req.headers });
    const u = new URL(req.url!, 'http://x');
    const path = u.pathname;
    if (path === '/file' || path === '/norange' || path.startsWith('/files/')) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (m && path !== '/norange') {
        let start: number;
        let end: number;
        if (m[1] === '') {
          start = Math.max(0, FILE_SIZE - Number(m[2]));
          end = FILE_SIZE - 1;
        } else {
          start = Number(m[1]);
          end = m[2] === '' ? FILE_SIZE - 1 : Math.min(FILE_SIZE - 1, Number(m[2]));
        }
        if (start >= FILE_SIZE) {
          res.writeHead(416, { 'Content-Range': `bytes */${FILE_SIZE}`, 'Content-Type': 'text/plain' });
          res.end('range not satisfiable\n');
          return;
        }
        res.writeHead(206, {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${start}-${end}/${FILE_SIZE}`,
          'Content-Length': String(end - start + 1),
        });
        res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(FILE_SIZE) });
      res.end(req.method === 'HEAD' ? undefined : data);
      return;
    }
    // /stream?kib=N: N KiB chunked (no Content-Length); /bomb: 1 MiB of zeros gzipped (~1 KiB)
    if (path === '/stream') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const kib = Number(u.searchParams.get('kib') ?? '64');
      for (let i = 0; i < kib; i++) if (!res.write(Buffer.alloc(1024, 'y'))) await once(res, 'drain');
      res.end();
      return;
    }
    if (path === '/bomb') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip' });
      res.end(gzipSync(Buffer.alloc(1024 * 1024)));
      return;
    }
    if (path === '/big') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(big.length) });
      res.end(big);
      return;
    }
    const redirect = /^\/redirect\/(\d)$/.exec(path);
    if (redirect) {
      const n = Number(redirect[1]);
      res.writeHead(302, { Location: n > 1 ? `/redirect/${n - 1}` : '/file', 'Content-Type': 'text/plain' });
      res.end('moved\n');
      return;
    }
    // /moved?to=URL: a 302 to anywhere (another server, for the credentials a redirect carries)
    if (path === '/moved') {
      res.writeHead(302, { Location: u.searchParams.get('to') ?? '/file', 'Content-Type': 'text/plain' });
      res.end('moved\n');
      return;
    }
    // /fail/KEY?times=N&status=S&after=SECONDS: status S (Retry-After SECONDS) N times, then 200
    if (path.startsWith('/fail/')) {
      const times = Number(u.searchParams.get('times') ?? '2');
      const seen = failures.get(path) ?? 0;
      failures.set(path, seen + 1);
      if (seen < times) {
        const after = u.searchParams.get('after');
        res.writeHead(Number(u.searchParams.get('status') ?? '503'), {
          'Content-Type': 'text/plain',
          ...(after !== null ? { 'Retry-After': after } : {}),
        });
        res.end(`failure ${seen + 1}\n`);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`ok after ${seen}\n`);
      return;
    }
    // a 103 Early Hints before the response (/hints/redirect: before a 302 to /trailers)
    if (path === '/hints' || path === '/hints/redirect') {
      res.writeEarlyHints({
        link: ['</style.css>; rel=preload; as=style', '</app.js>; rel=preload; as=script'],
      });
      if (path === '/hints/redirect') {
        res.writeHead(302, { Location: '/trailers', 'Content-Length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('hinted\n');
      return;
    }
    // a chunked body with trailer fields after it
    if (path === '/trailers') {
      res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum, X-Count' });
      res.write('first\n');
      res.addTrailers([
        ['X-Checksum', 'sha1=abc'],
        ['X-Count', '2'],
      ]);
      res.end('second\n');
      return;
    }
    if (path === '/echo') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Twice': ['a', 'b'] });
      res.end(JSON.stringify({ method: req.method, headers: req.headers }));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    data,
    requests,
    count: (prefix) => requests.filter((r) => r.url.startsWith(prefix)).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
