/**
 * `createFileServer` over HTTPS, library level: the same answers as over plain HTTP (files, ranges,
 * 304, HEAD, listings, the path jail, the Host check, keep-alive), HTTPS beside HTTP and HTTPS
 * only, ALPN, connection limits shared by both ports, and hostile clients on the TLS port (plain
 * HTTP, garbage, no handshake, a stalled handshake, a broken record, a client that stops reading).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { PLAIN_HTTP_ON_TLS_PORT } from '../../src/http/file-server-tls.js';
import { tempDir } from '../helpers/net.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** the negotiated ALPN protocol */
  alpn: string | false;
}

let dir: string;
let root: string;
let cleanup: () => Promise<void>;
let material: TlsMaterial;
let big: Buffer;
/** HTTP on `port`, HTTPS on `tlsPort` */
let server: FileServerHandle;
const traces: TraceEvent[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-fs-tls-'));
  root = path.join(dir, 'root');
  await mkdir(path.join(root, 'sub dir'), { recursive: true });
  big = randomBytes(3 * 1024 * 1024 + 77);
  await writeFile(path.join(root, 'big.bin'), big);
  await writeFile(path.join(root, 'hello.txt'), 'hello, world\n');
  await writeFile(path.join(root, 'sub dir', '<b>.txt'), 'tricky');
  await writeFile(path.join(dir, 'secret.txt'), 'outside the root');
  await symlink(path.join(dir, 'secret.txt'), path.join(root, 'escape.txt'));
  // the development certificate (localhost, 127.0.0.1, ::1), made in the temp data directory
  material = await loadTls(path.join(dir, 'data'));
  server = await createFileServer({ root, port: 0, tlsPort: 0, tls: material });
  server.on('trace', (ev: TraceEvent) => traces.push(ev));
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

/** An HTTPS request that trusts the dev certificate (and nothing else). */
function sget(
  port: number,
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
  extra: https.RequestOptions = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // https.request hands the TLS options on to tls.connect (its type does not list ALPNProtocols)
    const alpn: tls.ConnectionOptions = { ALPNProtocols: ['http/1.1'] };
    const options: https.RequestOptions = {
      ...alpn,
      host: '127.0.0.1',
      port,
      path: target,
      method,
      headers,
      agent: false,
      ca: material.cert,
      // the certificate's name, whatever Host says (Node would take the name to check from Host)
      servername: 'localhost',
      ...extra,
    };
    const req = https.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks),
          alpn: (res.socket as tls.TLSSocket).alpnProtocol ?? false,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes over TLS; everything received until the server closes (or `until` matches). */
function rawTls(port: number, text: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: material.cert }, () => s.write(text));
    let out = '';
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (until?.test(out)) s.destroy();
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

/** Raw bytes over plain TCP; everything received until the server closes. */
function rawTcp(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(bytes));
    let out = '';
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

/** Resolves with the first trace event that matches. */
function traced(s: FileServerHandle, match: (ev: TraceEvent) => boolean): Promise<TraceEvent> {
  return new Promise((resolve) => {
    const on = (ev: TraceEvent) => {
      if (!match(ev)) return;
      s.off('trace', on);
      resolve(ev);
    };
    s.on('trace', on);
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('file server over HTTPS: the same answers as over HTTP', () => {
  it('reports both listeners, the HTTPS one with an https:// URL', () => {
    expect(server.tlsPort).toBeGreaterThan(0);
    expect(server.tlsPort).not.toBe(server.port);
    expect(server.addresses).toEqual([
      { host: '127.0.0.1', port: server.port, tls: false, url: `http://127.0.0.1:${server.port}/` },
      { host: '127.0.0.1', port: server.tlsPort, tls: true, url: `https://127.0.0.1:${server.tlsPort}/` },
    ]);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
  });

  it('serves a file byte-identical, with the same headers as plain HTTP, over ALPN http/1.1', async () => {
    const secure = await sget(server.tlsPort!, '/big.bin');
    expect(secure.status).toBe(200);
    expect(secure.alpn).toBe('http/1.1');
    expect(sha256(secure.body)).toBe(sha256(big));
    const plain = await fetch(`${server.url}big.bin`, { method: 'HEAD' });
    for (const h of ['etag', 'last-modified', 'content-length', 'accept-ranges', 'content-type'])
      expect(secure.headers[h], h).toBe(plain.headers.get(h));
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const r = await sget(server.tlsPort!, '/big.bin', {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(r.body.length).toBe(0);
  });

  it('answers ranges: 206, multipart/byteranges, 416', async () => {
    const one = await sget(server.tlsPort!, '/big.bin', { range: 'bytes=1000-1999' });
    expect(one.status).toBe(206);
    expect(one.headers['content-range']).toBe(`bytes 1000-1999/${big.length}`);
    expect(one.body.equals(big.subarray(1000, 2000))).toBe(true);
    const multi = await sget(server.tlsPort!, '/big.bin', { range: 'bytes=0-9,-10' });
    expect(multi.status).toBe(206);
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(multi.headers['content-type']!)?.[1];
    expect(boundary).toBeDefined();
    const text = multi.body.toString('latin1');
    expect(text).toContain(`Content-Range: bytes 0-9/${big.length}`);
    expect(text).toContain(`Content-Range: bytes ${big.length - 10}-${big.length - 1}/${big.length}`);
    expect(text).toContain(big.subarray(0, 10).toString('latin1'));
    expect(text.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
    expect(Number(multi.headers['content-length'])).toBe(multi.body.length);
    const none = await sget(server.tlsPort!, '/big.bin', { range: `bytes=${big.length}-` });
    expect(none.status).toBe(416);
    expect(none.headers['content-range']).toBe(`bytes */${big.length}`);
  });

  it('answers 304 to If-None-Match and If-Modified-Since', async () => {
    const first = await sget(server.tlsPort!, '/hello.txt');
    const etag = await sget(server.tlsPort!, '/hello.txt', { 'if-none-match': first.headers.etag! });
    expect(etag.status).toBe(304);
    expect(etag.body.length).toBe(0);
    const since = await sget(server.tlsPort!, '/hello.txt', {
      'if-modified-since': first.headers['last-modified']!,
    });
    expect(since.status).toBe(304);
  });

  it('lists a directory (HTML and JSON)', async () => {
    const html = await sget(server.tlsPort!, '/sub%20dir/');
    expect(html.status).toBe(200);
    expect(html.body.toString()).toContain('&lt;b&gt;.txt');
    const json = await sget(server.tlsPort!, '/?format=json');
    const names = (JSON.parse(json.body.toString()) as { entries: { name: string }[] }).entries.map(
      (e) => e.name,
    );
    expect(names).toEqual(expect.arrayContaining(['big.bin', 'hello.txt', 'sub dir']));
  });

  it('keeps the path jail: no dot-segment or symlink leads out of the root', async () => {
    expect((await sget(server.tlsPort!, '/escape.txt')).status).toBe(403);
    const climbed = await rawTls(
      server.tlsPort!,
      'GET /../secret.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(climbed).toMatch(/^HTTP\/1\.1 (400|403|404) /);
    expect(climbed).not.toContain('outside the root');
  });

  it('answers only loopback host names on loopback (DNS rebinding), as over HTTP', async () => {
    const evil = await sget(server.tlsPort!, '/hello.txt', { host: 'evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.body.toString()).not.toContain('hello, world');
    // the certificate is for localhost: the name in the URL and the Host header agree
    const named = await sget(server.tlsPort!, '/hello.txt', { host: `localhost:${server.tlsPort}` });
    expect(named.status).toBe(200);
    const allowed = await createFileServer({
      root,
      port: 0,
      tlsOnly: true,
      tls: material,
      allowedHosts: ['app.test'],
    });
    try {
      expect((await sget(allowed.port, '/hello.txt', { host: 'app.test' })).status).toBe(200);
      expect((await sget(allowed.port, '/hello.txt', { host: 'other.test' })).status).toBe(403);
    } finally {
      await allowed.close();
    }
  });

  it('keeps a TLS connection alive across requests', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: material.cert });
    try {
      const ask = () =>
        new Promise<{ reused: boolean; body: string }>((resolve, reject) => {
          const req = https.get(
            { host: '127.0.0.1', port: server.tlsPort, path: '/hello.txt', agent },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => {
                body += d;
              });
              res.on('end', () => resolve({ reused: req.reusedSocket, body }));
            },
          );
          req.on('error', reject);
        });
      const a = await ask();
      const b = await ask();
      expect(a).toEqual({ reused: false, body: 'hello, world\n' });
      expect(b).toEqual({ reused: true, body: 'hello, world\n' });
    } finally {
      agent.destroy();
    }
  });

  it('answers a malformed request inside TLS with 400, as over HTTP', async () => {
    expect(await rawTls(server.tlsPort!, 'HELLO\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('traces the TLS handshake with its protocol and ALPN', async () => {
    await sget(server.tlsPort!, '/hello.txt');
    expect(traces.some((t) => t.kind === 'connect' && t.text === 'tls')).toBe(true);
    expect(traces.map((t) => t.text)).toContain('TLS established (TLSv1.3, http/1.1)');
  });
});

describe('file server over HTTPS: modes and options', () => {
  it('tlsOnly serves HTTPS on the main port, and no plain listener', async () => {
    const s = await createFileServer({ root, port: 0, tlsOnly: true, tls: material });
    try {
      expect(s.tlsPort).toBe(s.port);
      expect(s.addresses).toHaveLength(1);
      expect(s.url).toBe(`https://127.0.0.1:${s.port}/`);
      expect((await sget(s.port, '/hello.txt')).body.toString()).toBe('hello, world\n');
    } finally {
      await s.close();
    }
  });

  it('refuses tlsOnly with a tlsPort', async () => {
    await expect(
      createFileServer({ root, port: 0, tlsOnly: true, tlsPort: 0, tls: material }),
    ).rejects.toMatchObject({ code: 'NETKIT_USAGE' });
  });

  it('without tls material, makes the development certificate in dataDir and serves with it', async () => {
    const data = path.join(dir, 'fresh-data');
    const s = await createFileServer({ root, port: 0, tlsOnly: true, dataDir: data });
    try {
      const cert = await readFile(path.join(data, 'tls', 'dev-cert.pem'), 'utf8');
      const r = await sget(s.port, '/hello.txt', {}, 'GET', { ca: cert });
      expect(r.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('a client that does not trust the certificate fails its handshake', async () => {
    const err = await sget(server.tlsPort!, '/hello.txt', {}, 'GET', { ca: undefined }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('refuses a client that offers only h2 in ALPN (no application protocol)', async () => {
    const s = tls.connect({
      port: server.tlsPort!,
      host: '127.0.0.1',
      ca: material.cert,
      ALPNProtocols: ['h2'],
    });
    const [err] = await once(s, 'error');
    expect((err as Error).message).toMatch(/no application protocol/);
    // one that offers no ALPN at all is served (HTTP/1.1 is the default)
    const none = await rawTls(
      server.tlsPort!,
      'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(none).toMatch(/^HTTP\/1\.1 200 [\s\S]*hello, world\n$/);
  });
});

describe('file server over HTTPS: hostile clients on the TLS port', () => {
  it('answers plain HTTP with a plaintext 400 that says so, and closes', async () => {
    const reply = await rawTcp(server.tlsPort!, 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(reply).toContain('\r\nConnection: close\r\n');
    expect(reply.endsWith(`\r\n\r\n${PLAIN_HTTP_ON_TLS_PORT}\n`)).toBe(true);
    expect(reply).not.toContain('hello, world');
  });

  it('closes on garbage that is neither TLS nor HTTP, without a reply', async () => {
    const done = traced(server, (ev) => ev.text.startsWith('not a TLS handshake'));
    expect(await rawTcp(server.tlsPort!, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a]))).toBe('');
    expect((await done).text).toBe('not a TLS handshake (first byte 0x00): closed');
  });

  it('fails a handshake that starts like TLS and goes on as garbage', async () => {
    const done = traced(server, (ev) => ev.text.startsWith('TLS handshake failed'));
    const reply = await rawTcp(
      server.tlsPort!,
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]), randomBytes(5)]),
    );
    // at most a TLS alert record (type 0x15), never HTTP
    expect(reply === '' || reply.charCodeAt(0) === 0x15).toBe(true);
    await done;
  });

  it('drops a client that connects and never handshakes, or stalls mid-handshake, after the handshake timeout', async () => {
    const s = await createFileServer({
      root,
      port: 0,
      tlsOnly: true,
      tls: material,
      tlsHandshakeTimeoutMs: 200,
    });
    try {
      const events: TraceEvent[] = [];
      s.on('trace', (ev: TraceEvent) => events.push(ev));
      const silent = net.connect(s.port, '127.0.0.1');
      silent.on('error', () => {});
      const stalled = net.connect(s.port, '127.0.0.1', () => stalled.write(Buffer.from([0x16, 0x03, 0x01])));
      stalled.on('error', () => {});
      let left = 0;
      const bothGone = traced(s, (ev) => ev.kind === 'disconnect' && ++left === 2);
      const t0 = performance.now();
      // nothing here closes them: the server does
      await Promise.all([once(silent, 'close'), once(stalled, 'close'), bothGone]);
      expect(performance.now() - t0).toBeLessThan(4000);
      expect(events.filter((e) => e.text === 'no TLS handshake within 200 ms')).toHaveLength(2);
      expect(s.connections).toBe(0);
    } finally {
      await s.close(0);
    }
  });

  it('drops a connection whose TLS records break after the handshake (no plaintext 400 into it)', async () => {
    // a TLS client over a stream we can also write raw bytes into
    const tcp = net.connect(server.tlsPort!, '127.0.0.1');
    await once(tcp, 'connect');
    const wire = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        tcp.write(chunk, cb);
      },
    });
    tcp.on('data', (d) => wire.push(d));
    tcp.on('end', () => wire.push(null));
    const client = tls.connect({ socket: wire, ca: material.cert, servername: 'localhost' });
    client.on('error', () => {});
    await once(client, 'secureConnect');
    const done = traced(server, (ev) => ev.kind === 'error' && ev.text.startsWith('TLS error: '));
    // an application-data record that does not decrypt
    tcp.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), randomBytes(32)]));
    await once(tcp, 'close');
    expect((await done).text).toMatch(/^TLS error: ERR_SSL_/);
    client.destroy();
  });

  it('closes a TLS client that stops reading after the idle timeout; others are served', async () => {
    const { dir: own, cleanup: done } = await tempDir('netkit-fs-tls-idle-');
    const idle = await createFileServer({
      root: own,
      port: 0,
      tlsOnly: true,
      tls: material,
      idleTimeoutMs: 300,
    });
    try {
      await writeFile(path.join(own, 'huge.bin'), Buffer.alloc(48 * 1024 * 1024, 7));
      await writeFile(path.join(own, 'small.txt'), 'small');
      const events: TraceEvent[] = [];
      idle.on('trace', (ev: TraceEvent) => events.push(ev));
      const stalled = tls.connect({ port: idle.port, host: '127.0.0.1', ca: material.cert });
      stalled.on('error', () => {});
      await once(stalled, 'secureConnect');
      stalled.pause(); // never reads a byte of the body
      const isStalled = (conn: number) =>
        events.some((e) => e.conn === conn && e.kind === 'in' && e.text.startsWith('GET /huge.bin'));
      // the server closes the stalled connection by itself (nothing here closes it; paused, the
      // client would not even notice)
      const gone = traced(idle, (ev) => ev.kind === 'disconnect' && isStalled(ev.conn));
      stalled.write('GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const other = await sget(idle.port, '/small.txt');
      expect(other.body.toString()).toBe('small');
      await gone;
      expect(events.some((e) => e.text === 'HTTP/1.1 200 OK (aborted)')).toBe(true);
      stalled.destroy();
    } finally {
      await idle.close(0);
      await done();
    }
  });
});

describe('file server over HTTPS: connection limits and close', () => {
  it('counts both ports together: maxConnections and maxConnectionsPerIp', async () => {
    const s = await createFileServer({ root, port: 0, tlsPort: 0, tls: material, maxConnections: 2 });
    const held: net.Socket[] = [];
    try {
      const connected = (n: number) => {
        let seen = 0;
        return traced(s, (ev) => ev.kind === 'connect' && ++seen === n);
      };
      const two = connected(2);
      // one plain and one TLS connection, the TLS one still before its handshake: both count
      for (const port of [s.port, s.tlsPort!]) {
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => {});
        held.push(c);
      }
      await two;
      expect(s.connections).toBe(2);
      expect(await rawTcp(s.port, 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n')).toMatch(
        /^HTTP\/1\.1 503 /,
      );
      // the TLS port has no session to carry a 503 in: it closes
      const refused = await sget(s.tlsPort!, '/hello.txt').catch((e: Error) => e);
      expect(refused).toBeInstanceOf(Error);
      // a slot freed on either port serves the other
      const freed = traced(s, (ev) => ev.kind === 'disconnect');
      held.shift()!.destroy();
      await freed;
      expect((await sget(s.tlsPort!, '/hello.txt')).status).toBe(200);
    } finally {
      for (const c of held) c.destroy();
      await s.close(0);
    }
    const perIp = await createFileServer({
      root,
      port: 0,
      tlsPort: 0,
      tls: material,
      maxConnectionsPerIp: 1,
    });
    try {
      const held = tls.connect({ port: perIp.tlsPort!, host: '127.0.0.1', ca: material.cert });
      held.on('error', () => {});
      await once(held, 'secureConnect');
      expect(await rawTcp(perIp.port, 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n')).toMatch(
        /^HTTP\/1\.1 503 /,
      );
      held.destroy();
    } finally {
      await perIp.close(0);
    }
  });

  it('close() ends idle TLS keep-alive connections cleanly and drops handshaking ones', async () => {
    const s = await createFileServer({ root, port: 0, tlsOnly: true, tls: material });
    const idle = tls.connect({ port: s.port, host: '127.0.0.1', ca: material.cert });
    idle.on('error', () => {});
    await once(idle, 'secureConnect');
    idle.write('GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await once(idle, 'data');
    const handshaking = net.connect(s.port, '127.0.0.1');
    handshaking.on('error', () => {});
    await once(handshaking, 'connect');
    const dropped = once(handshaking, 'close');
    const ended = once(idle, 'end');
    const t0 = performance.now();
    // a long deadline: both connections must go at once, not when it passes
    await s.close(10_000);
    expect(performance.now() - t0).toBeLessThan(5000);
    await ended;
    await dropped;
  });
});
