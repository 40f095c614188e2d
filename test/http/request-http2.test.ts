/**
 * `netkit http … --http2` / `--http1.1` (and the library's `http2` option) against independent
 * servers: nginx with `listen … ssl http2` (its `$server_protocol` says which protocol the request
 * really came in), nginx with TLS but without HTTP/2 (the fallback), curl --http2 on the same nginx
 * as the reference for the `-i` output, and Node's own http2.createSecureServer({allowHTTP1}) for
 * bodies, cookies and timeouts over HTTP/2.
 */
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { HttpClient, httpRequest } from '../../src/http/request.js';
import { netkit, run, tempDir } from '../helpers/net.js';
import { type NginxHandle, startNginx } from '../helpers/nginx.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';
import { startTinyproxy } from '../helpers/tinyproxy.js';

let dir: string;
let cleanup: () => Promise<void>;
let cert: { certFile: string; keyFile: string };
let h1: NginxHandle; // TLS, no HTTP/2
let h2: NginxHandle; // TLS + HTTP/2
let node: http2.Http2SecureServer;
let nodeUrl: string;
/** what the Node server saw, per path */
const seen: Array<{ path: string; version: string; headers: http2.IncomingHttpHeaders; body: string }> = [];

const TEXT = 'netkit over HTTP/2\n'.repeat(200);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  cert = await opensslCertificate(dir);
  await writeFile(path.join(dir, 'big.txt'), TEXT);
  const tls = `ssl_certificate ${cert.certFile}; ssl_certificate_key ${cert.keyFile};
    add_header X-Proto $server_protocol always;
    types { text/plain txt; } gzip on; gzip_types text/plain; gzip_min_length 1;
    location = /proto { default_type text/plain; return 200 "$server_protocol"; }`;
  h1 = await startNginx({ root: dir, listen: 'ssl', serverExtra: tls });
  h2 = await startNginx({
    root: dir,
    listen: 'ssl http2',
    serverExtra: `${tls}
      location = /to-h1 { return 302 ${h1.url}proto; }
      location = /self { return 301 /proto; }`,
  });

  node = http2.createSecureServer({
    allowHTTP1: true,
    cert: await readFile(cert.certFile),
    key: await readFile(cert.keyFile),
  });
  node.on('request', async (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('latin1');
    seen.push({ path: req.url, version: req.httpVersion, headers: req.headers, body });
    if (req.url === '/login') {
      res.writeHead(303, { location: '/home', 'set-cookie': ['session=abc; Path=/', 'theme=dark; Path=/'] });
      res.end();
    } else if (req.url === '/home') {
      res.setHeader('content-type', 'text/plain');
      res.end(`cookie=${req.headers.cookie ?? ''}`);
    } else if (req.url === '/trailers') {
      // a 103 first (undici's h2 client does not pass it on), then a body with trailers
      res.writeEarlyHints({ link: '</a.css>; rel=preload' });
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('body\n');
      res.addTrailers({ 'x-checksum': 'sha1=abc' });
      res.end();
    } else if (req.url === '/stall') {
      res.writeHead(200);
      res.write('partial');
      // never ends: --max-time must
    } else {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: req.httpVersion, method: req.method, length: body.length }));
    }
  });
  node.listen(0, '127.0.0.1');
  await once(node, 'listening');
  nodeUrl = `https://localhost:${(node.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await h1?.stop();
  await h2?.stop();
  for (const s of (node as unknown as { sessions?: Set<http2.Http2Session> }).sessions ?? []) s.destroy();
  node?.close();
  await cleanup();
});

const statusLine = (out: string) => out.split(/\r?\n/)[0]!.trimEnd();
const headerNames = (out: string) =>
  out
    .split(/\r?\n\r?\n/)[0]!
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.slice(0, l.indexOf(':')));

describe('--http2 against nginx (listen … ssl http2)', () => {
  it('speaks HTTP/2 with --http2, HTTP/1.1 without it or with --http1.1 (the last one given wins)', async () => {
    const url = `${h2.url}proto`;
    const [two, plain, one, lastOne, lastTwo] = await Promise.all([
      netkit(['http', 'get', '--http2', '-i', '--cacert', cert.certFile, url]),
      netkit(['http', 'get', '-i', '--cacert', cert.certFile, url]),
      netkit(['http', 'get', '--http1.1', '-i', '--cacert', cert.certFile, url]),
      netkit(['http', 'get', '--http2', '--http1.1', '--cacert', cert.certFile, url]),
      netkit(['http', 'get', '--http1.1', '--http2', '--cacert', cert.certFile, url]),
    ]);
    expect(two.code, two.stderr).toBe(0);
    expect(statusLine(two.stdout)).toBe('HTTP/2 200');
    expect(two.stdout).toContain('x-proto: HTTP/2.0\n');
    expect(two.stdout.endsWith('\n\nHTTP/2.0')).toBe(true);
    // no pseudo-header (:status) among the printed headers
    expect(two.stdout).not.toMatch(/^:/m);
    for (const r of [plain, one]) {
      expect(r.code, r.stderr).toBe(0);
      expect(statusLine(r.stdout)).toBe('HTTP/1.1 200 OK');
      expect(r.stdout).toContain('X-Proto: HTTP/1.1');
      expect(r.stdout.endsWith('\n\nHTTP/1.1')).toBe(true);
    }
    expect(lastOne.stdout).toBe('HTTP/1.1');
    expect(lastTwo.stdout).toBe('HTTP/2.0');
  });

  it('prints -i as curl --http2 does (status line, header names in order)', async () => {
    const url = `${h2.url}big.txt`;
    const [ours, curl] = await Promise.all([
      netkit(['http', 'head', '--http2', '--cacert', cert.certFile, url]),
      run('curl', ['-sS', '--http2', '-I', '--cacert', cert.certFile, url]),
    ]);
    expect(curl.code, curl.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    expect(statusLine(curl.stdout)).toBe('HTTP/2 200');
    expect(statusLine(ours.stdout)).toBe(statusLine(curl.stdout));
    expect(headerNames(ours.stdout)).toEqual(headerNames(curl.stdout));
    expect(headerNames(ours.stdout)).toContain('x-proto');
  });

  it('--trace and --meta name the protocol used; -L follows an HTTP/2 hop to an HTTP/1.1 server', async () => {
    const r = await netkit([
      'http',
      'get',
      '--http2',
      '-L',
      '-i',
      '--trace',
      '--meta',
      '--cacert',
      cert.certFile,
      `${h2.url}to-h1`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const blocks = r.stdout.split('\n\n');
    expect(statusLine(blocks[0]!)).toBe('HTTP/2 302');
    expect(statusLine(blocks[1]!)).toBe('HTTP/1.1 200 OK');
    expect(blocks[2]).toBe('HTTP/1.1');
    expect(r.stderr).toContain('C: GET /to-h1 HTTP/2\n');
    expect(r.stderr).toContain('S: HTTP/2 302\n');
    expect(r.stderr).toContain('C: GET /proto HTTP/1.1\n');
    expect(r.stderr).toContain('S: HTTP/1.1 200 OK\n');
    const meta = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    expect(meta).toMatchObject({ status: 200, httpVersion: '1.1', url: `${h1.url}proto` });
    expect(meta.redirects).toEqual([{ url: `${h2.url}to-h1`, status: 302, location: `${h1.url}proto` }]);

    const same = await netkit(['http', 'get', '--http2', '-L', '--meta', '-k', `${h2.url}self`]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toBe('HTTP/2.0');
    expect(JSON.parse(same.stderr)).toMatchObject({ httpVersion: '2', statusText: '', status: 200 });
  });

  it('--compressed, -o, -k and certificate checks work over HTTP/2', async () => {
    const out = path.join(dir, 'got.txt');
    const [gz, file, insecure, unverified] = await Promise.all([
      netkit([
        'http',
        'get',
        '--http2',
        '--compressed',
        '--trace',
        '--cacert',
        cert.certFile,
        `${h2.url}big.txt`,
      ]),
      netkit(['http', 'get', '--http2', '-o', out, '--meta', '--cacert', cert.certFile, `${h2.url}big.txt`]),
      netkit(['http', 'get', '--http2', '-k', `${h2.url}proto`]),
      netkit(['http', 'get', '--http2', `${h2.url}proto`]),
    ]);
    expect(gz.code, gz.stderr).toBe(0);
    expect(gz.stderr).toContain('S: content-encoding: gzip');
    expect(gz.stderr).toContain('S: HTTP/2 200');
    expect(gz.stdout).toBe(TEXT);
    expect(file.code, file.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(TEXT);
    expect(JSON.parse(file.stderr)).toMatchObject({ httpVersion: '2', bytes: TEXT.length });
    expect(insecure.stdout).toBe('HTTP/2.0');
    expect(unverified.code).toBe(1);
    expect(unverified.stderr).toMatch(/certificate/i);
  });
});

describe('--http2 fallback', () => {
  it('to a TLS server without HTTP/2 (nginx listen … ssl) goes over HTTP/1.1 cleanly', async () => {
    const r = await netkit([
      'http',
      'get',
      '--http2',
      '-i',
      '--trace',
      '--cacert',
      cert.certFile,
      `${h1.url}proto`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(statusLine(r.stdout)).toBe('HTTP/1.1 200 OK');
    expect(r.stdout.endsWith('\n\nHTTP/1.1')).toBe(true);
    expect(r.stderr).toContain('C: GET /proto HTTP/1.1\n');
  });

  it('plain http:// stays HTTP/1.1 (no h2c), and the trace says so', async () => {
    const plain = await startNginx({
      root: dir,
      serverExtra: 'location = /proto { return 200 "$server_protocol"; }',
    });
    try {
      const r = await netkit(['http', 'get', '--http2', '--trace', `${plain.url}proto`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('HTTP/1.1');
      expect(r.stderr).toMatch(/HTTP\/2 is offered on https connections only \(no h2c\)/);
    } finally {
      await plain.stop();
    }
  });
});

describe('--http2 through a CONNECT proxy (tinyproxy)', () => {
  it('ALPN offers h2 at the end of the tunnel: HTTP/2 where the server takes it, HTTP/1.1 where not', async () => {
    const proxy = await startTinyproxy(dir);
    try {
      const via = ['-x', proxy.url, '--cacert', cert.certFile];
      const [two, one, plain] = await Promise.all([
        netkit(['http', 'get', '--http2', '-i', '--trace', ...via, `${h2.url}proto`]),
        netkit(['http', 'get', '--http2', '-i', '--trace', ...via, `${h1.url}proto`]),
        netkit(['http', 'get', '-i', ...via, `${h2.url}proto`]),
      ]);
      expect(two.code, two.stderr).toBe(0);
      expect(statusLine(two.stdout)).toBe('HTTP/2 200');
      expect(two.stdout.endsWith('\n\nHTTP/2.0')).toBe(true); // nginx says which protocol came in
      expect(two.stderr).toContain(`via proxy ${proxy.url}`);
      expect(two.stderr).toContain('C: GET /proto HTTP/2\n');
      expect(one.code, one.stderr).toBe(0);
      expect(statusLine(one.stdout)).toBe('HTTP/1.1 200 OK');
      expect(one.stdout.endsWith('\n\nHTTP/1.1')).toBe(true);
      expect(one.stderr).toContain('C: GET /proto HTTP/1.1\n');
      expect(plain.code, plain.stderr).toBe(0);
      expect(statusLine(plain.stdout)).toBe('HTTP/1.1 200 OK');
      expect(plain.stdout.endsWith('\n\nHTTP/1.1')).toBe(true);
      // all three went through the proxy's tunnel
      expect(proxy.log().match(/Request \(file descriptor \d+\): CONNECT /g)).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });

  it('library: httpVersion "2" through the proxy, also for a request on the reused session', async () => {
    const proxy = await startTinyproxy(dir);
    const ca = await readFile(cert.certFile);
    const client = new HttpClient({ http2: true, ca, proxy: proxy.url });
    try {
      for (const p of ['/a', '/b']) {
        const res = await client.request({ url: `${nodeUrl}${p}` });
        expect(res.httpVersion).toBe('2');
        expect(JSON.parse((await res.body.text()).toString()).version).toBe('2.0');
      }
    } finally {
      await client.close();
      await proxy.stop();
    }
    // one tunnel, one HTTP/2 session
    expect(proxy.log().match(/Request \(file descriptor \d+\): CONNECT /g)).toHaveLength(1);
  });
});

describe('--http2 against Node http2.createSecureServer({allowHTTP1})', () => {
  it('sends -d, --json and -F bodies over HTTP/2', async () => {
    const data = path.join(dir, 'upload.bin');
    await writeFile(data, Buffer.alloc(70_000, 7));
    const base = ['--http2', '--cacert', cert.certFile];
    const [d, json, form, file] = await Promise.all([
      netkit(['http', 'post', ...base, '-d', 'a=1', '-d', 'b=2', `${nodeUrl}/d`]),
      netkit(['http', 'put', ...base, '--json', '{"x":1}', `${nodeUrl}/json`]),
      netkit(['http', 'post', ...base, '-F', `file=@${data}`, '-F', 'note=hi', `${nodeUrl}/form`]),
      netkit(['http', 'post', ...base, '--data-file', data, `${nodeUrl}/file`]),
    ]);
    for (const r of [d, json, form, file]) expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toEqual({ version: '2.0', method: 'POST', length: 7 });
    expect(JSON.parse(json.stdout)).toEqual({ version: '2.0', method: 'PUT', length: 7 });
    expect(JSON.parse(file.stdout)).toEqual({ version: '2.0', method: 'POST', length: 70_000 });
    const got = seen.find((s) => s.path === '/form')!;
    expect(got.version).toBe('2.0');
    expect(got.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(got.body).toContain('name="note"\r\n\r\nhi\r\n');
    expect(got.body).toContain(`filename="upload.bin"`);
    expect(seen.find((s) => s.path === '/d')!.headers['content-type']).toBe(
      'application/x-www-form-urlencoded',
    );
  });

  it('keeps cookies across a 303 over HTTP/2 and saves them to the jar', async () => {
    const jar = path.join(dir, 'jar.txt');
    const r = await netkit([
      'http',
      'post',
      '--http2',
      '--cacert',
      cert.certFile,
      '-L',
      '-c',
      jar,
      '-d',
      'user=bob',
      '--meta',
      `${nodeUrl}/login`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('cookie=session=abc; theme=dark');
    expect(JSON.parse(r.stderr)).toMatchObject({ httpVersion: '2', status: 200, method: 'POST' });
    const saved = await readFile(jar, 'utf8');
    expect(saved).toMatch(/\tsession\tabc$/m);
    expect(seen.find((s) => s.path === '/home')!.version).toBe('2.0');
  });

  it('-i shows HTTP/2 trailers after the body as curl does; a 103 does not reach us over HTTP/2', async () => {
    const url = `${nodeUrl}/trailers`;
    const [ours, curl] = await Promise.all([
      netkit(['http', 'get', '--http2', '--cacert', cert.certFile, '-i', url]),
      run('curl', ['-s', '--http2', '--cacert', cert.certFile, '-i', url]),
    ]);
    expect(ours.code, ours.stderr).toBe(0);
    const noDate = (t: string) => t.replace(/^date: .*$/gm, 'date: -');
    // curl shows the 103 (undici's HTTP/2 client drops it: the README says so) and ends the
    // status line with a space
    const curlText = noDate(curl.stdout.replace(/\r\n/g, '\n'))
      .replace(/^HTTP\/2 103 \nlink: .*\n\n/, '')
      .replace(/^HTTP\/2 200 \n/, 'HTTP/2 200\n');
    expect(noDate(ours.stdout)).toBe(curlText);
    expect(noDate(ours.stdout)).toBe(
      'HTTP/2 200\ncontent-type: text/plain\ntrailer: x-checksum\ndate: -\n\nbody\nx-checksum: sha1=abc\n',
    );
  });

  it('--max-time ends a stalled HTTP/2 response', async () => {
    const started = Date.now();
    const r = await netkit(['http', 'get', '--http2', '-k', '-m', '700ms', `${nodeUrl}/stall`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after .*--max-time/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('library: http2 option gives httpVersion "2", traces HTTP/2; without it HTTP/1.1', async () => {
    const ca = await readFile(cert.certFile);
    const two = await httpRequest({ url: `${nodeUrl}/lib`, http2: true, ca });
    expect(two.httpVersion).toBe('2');
    expect(JSON.parse(two.body.toString()).version).toBe('2.0');
    expect(two.rawHeaders.some(([k]) => k.startsWith(':'))).toBe(false);
    const one = await httpRequest({ url: `${nodeUrl}/lib`, ca });
    expect(one.httpVersion).toBe('1.1');
    expect(JSON.parse(one.body.toString()).version).toBe('1.1');

    // two requests on one client: the second reuses the HTTP/2 session and still says HTTP/2
    const client = new HttpClient({ http2: true, ca });
    const events: TraceEvent[] = [];
    client.on('trace', (e: TraceEvent) => events.push(e));
    try {
      for (const p of ['/a', '/b']) {
        const res = await client.request({ url: `${nodeUrl}${p}` });
        await res.body.dump();
        expect(res.httpVersion).toBe('2');
      }
    } finally {
      await client.close();
    }
    const lines = events.map((e) => `${e.kind} ${e.text}`);
    expect(lines.filter((l) => l.startsWith('connect'))).toHaveLength(1);
    expect(lines).toContain('out GET /a HTTP/2');
    expect(lines).toContain('out GET /b HTTP/2');
    expect(lines.filter((l) => l === 'in HTTP/2 200')).toHaveLength(2);
  });
});
