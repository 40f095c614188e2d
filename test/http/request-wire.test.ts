/**
 * The HTTP client against responses written byte by byte (a raw TCP server on port 0): status
 * lines as sent (HTTP/1.0, no reason phrase), non-ASCII header bytes, a UTF-8 Location, large
 * headers, an unsolicited 100 Continue — through the library and the built CLI.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { HttpClient, httpRequest } from '../../src/http/request.js';
import { netkit } from '../helpers/net.js';

/** Canned responses by request path; `/ok?…` answers 200 with the request line as its body. */
const RESPONSES: Record<string, Buffer> = {
  '/http10': Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n'),
  '/noreason': Buffer.from('HTTP/1.1 200\r\nContent-Length: 3\r\n\r\nok\n'),
  '/custom-reason': Buffer.from('HTTP/1.1 200 Fine Thanks\r\nContent-Length: 3\r\n\r\nok\n'),
  '/utf8hdr': Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nX-Name: '),
    Buffer.from('ü€', 'utf8'),
    Buffer.from('\r\nX-Latin: caf'),
    Buffer.from([0xe9]),
    Buffer.from('\r\nContent-Length: 3\r\n\r\nok\n'),
  ]),
  '/utf8loc': Buffer.concat([
    Buffer.from('HTTP/1.1 302 Found\r\nLocation: /ok?name='),
    Buffer.from('ü', 'utf8'),
    Buffer.from('\r\nContent-Length: 0\r\n\r\n'),
  ]),
  '/bigheader': Buffer.from(
    `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100_000)}\r\nContent-Length: 3\r\n\r\nok\n`,
  ),
  '/continue': Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n'),
};

let server: net.Server;
let origin: string;

beforeAll(async () => {
  server = net.createServer((socket) => {
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const line = head.slice(0, head.indexOf('\r\n'));
      const target = line.split(' ')[1] ?? '/';
      head = '';
      const canned = RESPONSES[target];
      if (canned) socket.end(canned);
      else socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(line)}\r\n\r\n${line}`);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('responses as the server wrote them', () => {
  it('the status line: HTTP version and reason phrase as sent (none invented)', async () => {
    const [v10, bare, custom] = await Promise.all(
      ['/http10', '/noreason', '/custom-reason'].map((p) => httpRequest({ url: `${origin}${p}` })),
    );
    expect([v10!.httpVersion, v10!.statusText]).toEqual(['1.0', 'OK']);
    expect([bare!.httpVersion, bare!.statusText]).toEqual(['1.1', '']);
    expect(custom!.statusText).toBe('Fine Thanks');
    const [i10, iBare] = await Promise.all([
      netkit(['http', 'get', '-i', `${origin}/http10`]),
      netkit(['http', 'get', '-i', `${origin}/noreason`]),
    ]);
    expect(i10.stdout.split('\n')[0]).toBe('HTTP/1.0 200 OK');
    expect(iBare.stdout.split('\n')[0]).toBe('HTTP/1.1 200');
  });

  it('non-ASCII header values are printed as the bytes the server sent (-i, head)', async () => {
    const res = await httpRequest({ url: `${origin}/utf8hdr` });
    expect(res.headers['x-name']).toBe(Buffer.from('ü€').toString('latin1')); // undici's byte string
    const [get, head] = await Promise.all([
      netkit(['http', 'get', '-i', `${origin}/utf8hdr`]),
      netkit(['http', 'head', `${origin}/utf8hdr`]),
    ]);
    for (const r of [get, head]) {
      expect(r.code, r.stderr).toBe(0);
      expect(
        r.stdoutBuf.includes(Buffer.concat([Buffer.from('X-Name: '), Buffer.from('ü€'), Buffer.from('\n')])),
      ).toBe(true);
      expect(r.stdoutBuf.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]))).toBe(true); // caf\xe9
    }
  });

  it('--trace and --meta show header bytes as text: UTF-8 when they are UTF-8', async () => {
    const r = await netkit(['http', 'get', `${origin}/utf8hdr`, '--trace', '--meta']);
    expect(r.stderr).toContain('S: X-Name: ü€\n');
    const meta = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    expect(meta.headers['x-name']).toBe('ü€');
    expect(meta.httpVersion).toBe('1.1');
  });

  it('a UTF-8 Location is followed to the URL its bytes spell (percent-encoded once)', async () => {
    const client = new HttpClient({ followRedirects: true });
    const lines: string[] = [];
    client.on('trace', (e: TraceEvent) => lines.push(`${e.kind} ${e.text}`));
    try {
      const res = await client.request({ url: `${origin}/utf8loc` });
      expect(res.url).toBe(`${origin}/ok?name=%C3%BC`);
      expect(await res.body.text()).toBe('GET /ok?name=%C3%BC HTTP/1.1');
    } finally {
      await client.close();
    }
    expect(lines).toContain('in Location: /ok?name=ü');
  });

  it("response headers up to curl's limit are read", async () => {
    const res = await httpRequest({ url: `${origin}/bigheader` });
    expect([res.status, res.body.toString()]).toEqual([200, 'ok\n']);
    expect((res.headers['x-big'] as string).length).toBe(100_000);
  });

  it('an unsolicited 100 Continue is a clear one-line error (undici cannot skip it)', async () => {
    let err: unknown;
    try {
      await httpRequest({ url: `${origin}/continue` });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetkitError);
    expect((err as NetkitError).code).toBe('NETKIT_PROTOCOL');
    expect((err as Error).message).toMatch(/sent an unexpected "100 Continue" before its response/);
    const cli = await netkit(['http', 'post', `${origin}/continue`, '-d', 'x']);
    expect([cli.code, cli.stderr]).toEqual([
      1,
      expect.stringMatching(/^netkit: .*unexpected "100 Continue"[^\n]*\n$/),
    ]);
  });
});
