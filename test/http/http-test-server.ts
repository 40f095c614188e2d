/**
 * A small HTTP server for the request and cookie tests (port 0, loopback): echoes requests, redirects,
 * loops, basic auth, a cookie login (the course's HTTPCookieProcessor example) and a cookie set with
 * every flavour (session, domain, HttpOnly, Max-Age, path, deletion, foreign domain).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestServer {
  port: number;
  origin: string;
  /** every request, in order */
  requests: Received[];
  close(): Promise<void>;
}

/** The Set-Cookie headers of /set-cookies (host www.netkit.test). */
export function setCookieHeaders(): string[] {
  const tomorrow = new Date(Date.now() + 86_400_000).toUTCString();
  return [
    'sid=abc123; Path=/; HttpOnly',
    `theme=dark; Domain=netkit.test; Path=/; Expires=${tomorrow}`,
    'lang=en; Max-Age=3600; Path=/',
    'deep=1; Path=/cookies/deep',
    'gone=x; Max-Age=0; Path=/',
    'other=1; Domain=other.test; Path=/',
  ];
}

/** The cookies a correct client sends back to /cookies after /set-cookies. */
export const EXPECTED_BACK = ['lang=en', 'sid=abc123', 'theme=dark'];

export function receivedCookies(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

export async function startTestServer(): Promise<TestServer> {
  const requests: Received[] = [];
  const sessions = new Map<string, string>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    const u = new URL(req.url!, 'http://x');
    const path = u.pathname;
    const send = (status: number, text: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (path === '/echo' || path.startsWith('/echo/')) {
      const json = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Echo': 'yes' });
      res.end(req.method === 'HEAD' ? undefined : json);
      return;
    }
    const redirect = /^\/redirect\/(\d{3})$/.exec(path);
    if (redirect) {
      send(Number(redirect[1]), 'moved', { Location: u.searchParams.get('to') ?? '/echo' });
      return;
    }
    const chain = /^\/chain\/(\d+)$/.exec(path);
    if (chain) {
      const n = Number(chain[1]);
      send(302, 'moved', { Location: n > 1 ? `/chain/${n - 1}` : '/echo' });
      return;
    }
    if (path === '/loop') {
      send(302, 'again', { Location: '/loop' });
      return;
    }
    if (path === '/auth') {
      const expected = `Basic ${Buffer.from('bob:s3cret:x').toString('base64')}`;
      if (req.headers.authorization === expected) send(200, 'hello bob\n');
      else send(401, 'who are you?\n', { 'WWW-Authenticate': 'Basic realm="netkit"' });
      return;
    }
    if (path === '/login' && req.method === 'POST') {
      const form = new URLSearchParams(body);
      if (form.get('user') === 'bob' && form.get('password') === 'secret') {
        const id = randomBytes(8).toString('hex');
        sessions.set(id, 'bob');
        send(302, 'logged in', { Location: '/home', 'Set-Cookie': `session=${id}; Path=/; HttpOnly` });
      } else send(403, 'bad login\n');
      return;
    }
    if (path === '/home') {
      const m = /(?:^|;\s*)session=([0-9a-f]+)/.exec(req.headers.cookie ?? '');
      const user = m ? sessions.get(m[1]!) : undefined;
      if (user) send(200, `welcome ${user}\n`);
      else send(401, 'please log in\n');
      return;
    }
    if (path === '/set-cookies') {
      send(200, 'cookies set\n', { 'Set-Cookie': setCookieHeaders() });
      return;
    }
    if (path === '/cookies' || path.startsWith('/cookies/')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(receivedCookies(req.headers.cookie)));
      return;
    }
    if (path === '/bytes') {
      const n = Number(u.searchParams.get('n') ?? '1024');
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 7) & 0xff;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(n) });
      res.end(data);
      return;
    }
    if (path === '/cut') {
      // promises 1000 bytes, sends 10, then drops the connection
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('0123456789');
      setImmediate(() => res.socket?.destroy());
      return;
    }
    if (path === '/stall') return; // never answers: for timeouts
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      send(Number(status[1]), `status ${status[1]}\n`);
      return;
    }
    send(404, 'not found\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
