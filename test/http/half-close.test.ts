/**
 * Clients that half-close after their request (`nc -N`, Python's `shutdown(SHUT_WR)`, an HTTP/1.0
 * script): the servers fed by socket-fed-server.ts — `http serve` and the lab's dashboard — still
 * send the whole answer and then close. node:http used to end the connection on the client's FIN,
 * so every response written after an `await` (any file, listing or 404) was lost: such a client got
 * nothing. A half-open client that never reads is still closed by the idle timeout, and the
 * dashboard's event stream, a response that never ends by itself, ends on its client's FIN.
 *
 * The servers keep idle connections for longer than a test may run (`keepAliveTimeoutMs`): a
 * connection that closes in time was closed because of the client's FIN.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { run, tempDir } from '../helpers/net.js';
import { eventually } from '../helpers/tls-hostile.js';
import { testLabContext } from '../lab/lab-context.js';

interface HalfClosed {
  /** every byte the server sent */
  data: Buffer;
  /** the server closed its side (a FIN), rather than resetting the connection */
  ended: boolean;
}

/** Write `request`, half-close (FIN), read everything until the server closes. */
function halfClose(socket: net.Socket, request: string, connectEvent: string): Promise<HalfClosed> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    socket.once(connectEvent, () => socket.end(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), ended }));
  });
}

const tcp = (port: number, request: string) => halfClose(net.connect(port, '127.0.0.1'), request, 'connect');

/** A response's status line, headers (lower-case names) and body. */
function parse(data: Buffer): { status: string; headers: Record<string, string>; body: Buffer } {
  const end = data.indexOf('\r\n\r\n');
  expect(end, `no complete response head in ${JSON.stringify(data.toString('latin1'))}`).toBeGreaterThan(0);
  const [status, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: status!, headers, body: data.subarray(end + 4) };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let cleanup: () => Promise<void>;
let root: string;
let big: Buffer;
let material: TlsMaterial;
let server: FileServerHandle;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-half-close-'));
  root = path.join(dir, 'root');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  // far more than the loopback socket buffers hold: sent over many writes after the FIN
  big = randomBytes(8 * 1024 * 1024 + 17);
  await writeFile(path.join(root, 'big.bin'), big);
  await writeFile(path.join(root, 'file.txt'), 'hello, world\n');
  await writeFile(path.join(root, 'sub', 'a.txt'), 'a');
  material = await loadTls(path.join(dir, 'data'));
  server = await createFileServer({
    root,
    port: 0,
    tlsPort: 0,
    tls: material,
    keepAliveTimeoutMs: 60_000,
  });
});

afterAll(async () => {
  await server?.close(0);
  await cleanup?.();
});

describe('http serve: a client that half-closes after its request', () => {
  it('gets a small file over HTTP/1.0, then the connection closes', async () => {
    const r = await tcp(server.port, 'GET /file.txt HTTP/1.0\r\nHost: localhost\r\n\r\n');
    const res = parse(r.data);
    expect(res.status).toBe('HTTP/1.1 200 OK');
    expect(res.body.toString()).toBe('hello, world\n');
    expect(r.ended).toBe(true);
  });

  it('gets a large file byte-identical over keep-alive HTTP/1.1, then the connection closes', async () => {
    const r = await tcp(server.port, 'GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const res = parse(r.data);
    expect(res.status).toBe('HTTP/1.1 200 OK');
    expect(res.headers['content-length']).toBe(String(big.length));
    expect(res.body.length).toBe(big.length);
    expect(sha256(res.body)).toBe(sha256(big));
    expect(r.ended).toBe(true);
  });

  it('gets HEAD, 304, 404, a range, a listing and a redirect', async () => {
    const head = parse((await tcp(server.port, 'HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n')).data);
    expect(head.status).toBe('HTTP/1.1 200 OK');
    expect(head.headers['content-length']).toBe(String(big.length));
    expect(head.body.length).toBe(0);

    const etag = head.headers.etag!;
    const notModified = await tcp(
      server.port,
      `GET /big.bin HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: ${etag}\r\n\r\n`,
    );
    expect(parse(notModified.data).status).toBe('HTTP/1.1 304 Not Modified');

    const missing = parse((await tcp(server.port, 'GET /nope HTTP/1.0\r\nHost: localhost\r\n\r\n')).data);
    expect(missing.status).toBe('HTTP/1.1 404 Not Found');
    expect(missing.body.toString()).toBe('Not Found\n');

    const range = parse(
      (await tcp(server.port, 'GET /big.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=100-199\r\n\r\n'))
        .data,
    );
    expect(range.status).toBe('HTTP/1.1 206 Partial Content');
    expect(range.body.equals(big.subarray(100, 200))).toBe(true);

    const listing = parse((await tcp(server.port, 'GET /sub/ HTTP/1.0\r\nHost: localhost\r\n\r\n')).data);
    expect(listing.status).toBe('HTTP/1.1 200 OK');
    expect(listing.body.toString()).toContain('a.txt');

    const moved = parse((await tcp(server.port, 'GET /sub HTTP/1.0\r\nHost: localhost\r\n\r\n')).data);
    expect(moved.status).toBe('HTTP/1.1 301 Moved Permanently');
    expect(moved.headers.location).toBe('/sub/');
  });

  it('gets every pipelined request answered, in order, then the connection closes', async () => {
    const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    const r = await tcp(server.port, get('/file.txt') + get('/nope') + get('/sub/a.txt'));
    const text = r.data.toString('latin1');
    expect(text.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 404', 'HTTP/1.1 200']);
    expect(text.endsWith('\r\n\r\na')).toBe(true);
    expect(r.ended).toBe(true);
  });

  it('is closed at once when it half-closes without a request', async () => {
    const r = await tcp(server.port, '');
    expect(r.data.length).toBe(0);
    expect(r.ended).toBe(true);
  });

  it('gets a 400 for a request cut short by its FIN', async () => {
    const r = await tcp(server.port, 'GET /file.txt HTTP/1.1\r\nHost: loc');
    expect(parse(r.data).status).toBe('HTTP/1.1 400 Bad Request');
  });

  it('over HTTPS (TLS close_notify and FIN): a large file, then a 404', async () => {
    const tlsGet = (request: string) =>
      halfClose(
        tls.connect({ port: server.tlsPort!, host: '127.0.0.1', ca: material.cert }),
        request,
        'secureConnect',
      );
    const r = await tlsGet('GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const res = parse(r.data);
    expect(res.status).toBe('HTTP/1.1 200 OK');
    expect(sha256(res.body)).toBe(sha256(big));
    expect(r.ended).toBe(true);
    const missing = await tlsGet('GET /nope HTTP/1.0\r\nHost: localhost\r\n\r\n');
    expect(parse(missing.data).status).toBe('HTTP/1.1 404 Not Found');
  });

  it('that never reads is still closed by the idle timeout; the server keeps serving others', async () => {
    const { dir: own, cleanup: done } = await tempDir('netkit-half-close-idle-');
    const idle = await createFileServer({
      root: own,
      port: 0,
      idleTimeoutMs: 300,
      keepAliveTimeoutMs: 60_000,
    });
    try {
      await writeFile(path.join(own, 'huge.bin'), Buffer.alloc(64 * 1024 * 1024, 7));
      const events: TraceEvent[] = [];
      idle.on('trace', (ev: TraceEvent) => events.push(ev));
      const isStalled = (conn: number) =>
        events.some((e) => e.conn === conn && e.kind === 'in' && e.text.startsWith('GET /huge.bin'));
      const gone = new Promise<void>((resolve) => {
        idle.on('trace', (ev: TraceEvent) => {
          if (ev.kind === 'disconnect' && isStalled(ev.conn)) resolve();
        });
      });
      const stalled = net.connect(idle.port, '127.0.0.1');
      stalled.on('error', () => {});
      stalled.pause(); // never reads a byte of the body
      stalled.end('GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const served = await fetch(`http://127.0.0.1:${idle.port}/`);
      expect(served.status).toBe(200);
      await served.text();
      // the server closes the stalled, half-closed connection by itself (nothing here closes it)
      await gone;
      stalled.destroy();
    } finally {
      await idle.close(0);
      await done();
    }
  });
});

describe('http serve: independent half-closing clients', () => {
  it("Python's socket with shutdown(SHUT_WR): a large file, HEAD and 404, ten times", async () => {
    const script = `
import hashlib, json, socket, sys
port = int(sys.argv[1])
def ask(request):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(request.encode())
    s.shutdown(socket.SHUT_WR)
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b'\\r\\n\\r\\n')
    return [head.split(b'\\r\\n')[0].decode(), len(body), hashlib.sha256(body).hexdigest()]
out = []
for _ in range(10):
    out.append(ask('GET /big.bin HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n'))
out.append(ask('HEAD /file.txt HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'))
out.append(ask('GET /nope HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'))
print(json.dumps(out))
`;
    const r = await run('/usr/bin/python3', ['-c', script, String(server.port)]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Array<[string, number, string]>;
    const whole: [string, number, string] = ['HTTP/1.1 200 OK', big.length, sha256(big)];
    expect(out.slice(0, 10)).toEqual(Array(10).fill(whole));
    expect(out[10]!.slice(0, 2)).toEqual(['HTTP/1.1 200 OK', 0]);
    expect(out[11]!.slice(0, 2)).toEqual(['HTTP/1.1 404 Not Found', 'Not Found\n'.length]);
  });

  // nc -N (OpenBSD netcat) shuts its sending side down at the end of its input, and so does
  // ncat unless told --no-shutdown; both read on until the server closes
  it.each([
    ['nc -N', ['nc', '-N']],
    ['ncat', ['ncat']],
  ])('%s: a file, after the end of its input', async (_name, [peer, ...flags]) => {
    const r = await run(peer!, [...flags, '127.0.0.1', String(server.port)], {
      input: 'GET /file.txt HTTP/1.0\r\nHost: localhost\r\n\r\n',
    });
    expect(r.code, r.stderr).toBe(0);
    const res = parse(r.stdoutBuf);
    expect(res.status).toBe('HTTP/1.1 200 OK');
    expect(res.body.toString()).toBe('hello, world\n');
  });
});

describe('the dashboard: a client that half-closes after its request', () => {
  let dash: DashboardHandle;
  beforeAll(async () => {
    dash = await startDashboard(testLabContext(path.join(dir, 'lab')), { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
  });

  it('gets the page, an API answer and a 404, each written after an await', async () => {
    const page = parse((await tcp(dash.port, 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n')).data);
    expect(page.status).toBe('HTTP/1.1 200 OK');
    expect(page.body.length).toBe(Number(page.headers['content-length']));
    expect(page.body.toString()).toContain('<html');
    const api = await tcp(dash.port, 'GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(parse(api.data).status).toBe('HTTP/1.1 200 OK');
    expect(api.ended).toBe(true);
    const missing = parse((await tcp(dash.port, 'GET /nope HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n')).data);
    expect(missing.status).toBe('HTTP/1.1 404 Not Found');
  });

  it('ends an event stream when its client half-closes: no connection is left behind', async () => {
    const s = net.connect(dash.port, '127.0.0.1');
    s.on('error', () => {});
    let got = '';
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    await new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes(': netkit lab events')) resolve();
      });
      s.write('GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    expect(dash.connections).toBe(1);
    s.end();
    // the server closes the connection (nothing here destroys the socket)
    expect(await eventually(() => dash.connections === 0)).toBe(true);
    await closed;
  });
});
