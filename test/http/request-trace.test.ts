/**
 * `--trace` shows a request as it goes on the wire (request-wire.ts): a raw TCP (or TLS) server
 * records the bytes of every request head it receives, and the client's `C:` lines must be those
 * lines, in order, with only secret values masked — the lower-case `host` and `connection` undici
 * writes, its `content-length` or `transfer-encoding` last, the absolute-form target through a proxy.
 * The trace used to be rebuilt from the headers the caller gave: `Host:` capitalised, no
 * `connection`, `GET /a` where a proxy got `GET http://example.test/a`.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Agent, buildConnector, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTls } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { HttpClient, type HttpClientOptions, type HttpRequestOptions } from '../../src/http/request.js';
import { wireConnector } from '../../src/http/request-wire.js';
import { netkit, tempDir } from '../helpers/net.js';

/** A server that answers every request `200 ok` on a kept-alive connection and keeps each request head. */
class HeadRecorder {
  readonly heads: string[] = [];
  readonly server: net.Server;

  constructor(secure?: tls.SecureContextOptions) {
    const onSocket = (socket: net.Socket) => {
      let buf = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.subarray(0, end + 4).toString('latin1');
          let rest = buf.subarray(end + 4);
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (length) {
            if (rest.length < Number(length[1])) return;
            rest = rest.subarray(Number(length[1]));
          } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
            const last = rest.indexOf('\r\n0\r\n\r\n');
            if (last < 0 && !rest.subarray(0, 5).equals(Buffer.from('0\r\n\r\n'))) return;
            rest = rest.subarray(last < 0 ? 5 : last + 7);
          }
          this.heads.push(head);
          buf = rest;
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      });
    };
    this.server = secure ? tls.createServer(secure, onSocket) : net.createServer(onSocket);
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** The lines of a head as received (the request line, then each header line). */
const lines = (head: string) => head.split('\r\n').filter((l) => l !== '');

/** What the trace may show of a wire line: the value of a secret header masked, as the trace does. */
function masked(line: string): string {
  const m = /^(authorization|proxy-authorization): (\w+) /i.exec(line);
  if (m) return `${m[1]}: ${m[2]} ****`;
  return line.replace(
    /^(cookie: )(.*)$/i,
    (_, name: string, v: string) => name + v.replace(/=[^;]*/g, '=****'),
  );
}

/** One request through a fresh client: its trace's `C:` lines and the other trace lines. */
async function traced(o: HttpRequestOptions, clientOpts: HttpClientOptions = {}) {
  const client = new HttpClient({ proxy: '', ...clientOpts });
  const events: TraceEvent[] = [];
  client.on('trace', (e: TraceEvent) => events.push(e));
  try {
    const res = await client.request(o);
    await res.body.dump();
  } finally {
    await client.close();
  }
  return {
    out: events.filter((e) => e.kind === 'out').map((e) => e.text),
    all: events.map((e) => `${e.kind} ${e.text}`),
  };
}

let dir: string;
let cleanup: () => Promise<void>;
let plain: HeadRecorder;
let port: number;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-trace-'));
  plain = new HeadRecorder();
  port = await plain.listen();
});
afterAll(async () => {
  await plain?.close();
  await cleanup?.();
});

/** The trace of `o` must be the head the server received, line for line (secrets masked). */
async function expectTraceIsWire(o: HttpRequestOptions, clientOpts: HttpClientOptions = {}) {
  const before = plain.heads.length;
  const { out, all } = await traced(o, clientOpts);
  expect(plain.heads.length).toBe(before + 1);
  const wire = lines(plain.heads.at(-1)!);
  expect(out).toEqual(wire.map(masked));
  return { wire, out, all };
}

describe('--trace shows the request head as it went on the wire', () => {
  it('a GET: the host and connection lines undici writes, in its order and case', async () => {
    const { wire } = await expectTraceIsWire({ url: `http://127.0.0.1:${port}/a?b=c` });
    expect(wire.slice(0, 3)).toEqual([
      'GET /a?b=c HTTP/1.1',
      `host: 127.0.0.1:${port}`,
      'connection: keep-alive',
    ]);
  });

  it('a form POST: content-length last, then the body described', async () => {
    const { wire, all } = await expectTraceIsWire({
      url: `http://127.0.0.1:${port}/login`,
      form: { user: 'bob', password: 'secret' },
    });
    expect(wire.at(-1)).toBe('content-length: 24');
    const last = all.findLastIndex((l) => l.startsWith('out '));
    expect(all[last + 1]).toBe('info request body: form, 24 bytes');
  });

  it('a HEAD: the connection: close undici sends with it', async () => {
    const { wire } = await expectTraceIsWire({ url: `http://127.0.0.1:${port}/h`, method: 'HEAD' });
    expect(wire).toContain('connection: close');
  });

  it('a multipart file upload (a streamed body) and a chunked one', async () => {
    const file = path.join(dir, 'up.txt');
    await writeFile(file, 'x'.repeat(1000));
    const { wire } = await expectTraceIsWire({
      url: `http://127.0.0.1:${port}/up`,
      multipart: [{ name: 'f', file }],
    });
    expect(wire.at(-1)).toMatch(/^content-length: \d+$/);
    // with its Content-Length removed, a file goes out chunked
    const chunked = await expectTraceIsWire({
      url: `http://127.0.0.1:${port}/up`,
      method: 'PUT',
      bodyFile: file,
      headers: { 'Content-Length': '' },
    });
    expect(chunked.wire.at(-1)).toBe('transfer-encoding: chunked');
  });

  it('secrets are masked and nothing else differs: Authorization, Cookie', async () => {
    const { wire, out } = await expectTraceIsWire({
      url: `http://127.0.0.1:${port}/s`,
      auth: { username: 'bob', password: 'topsecret' },
      headers: { Cookie: 'sid=abc123; theme=dark', 'X-Case': 'Kept' },
    });
    expect(out).toContain('Authorization: Basic ****');
    expect(out).toContain('Cookie: sid=****; theme=****');
    expect(out).toContain('X-Case: Kept');
    expect(wire.join('\n')).toContain(Buffer.from('bob:topsecret').toString('base64'));
    expect(out.join('\n')).not.toContain('abc123');
  });

  it('through a proxy: the absolute-form target and the Host the proxy got', async () => {
    const { wire } = await expectTraceIsWire(
      { url: 'http://example.test/a' },
      { proxy: `http://127.0.0.1:${port}` },
    );
    expect(wire.slice(0, 2)).toEqual(['GET http://example.test/a HTTP/1.1', 'host: example.test']);
  });

  it('through a proxy with credentials: the proxy-authorization undici adds, masked', async () => {
    const { wire, out } = await expectTraceIsWire(
      { url: 'http://example.test/b' },
      { proxy: `http://bob:s3cret@127.0.0.1:${port}` },
    );
    expect(wire.some((l) => /^proxy-authorization: Basic /i.test(l))).toBe(true);
    expect(out.some((l) => /^proxy-authorization: Basic \*\*\*\*$/i.test(l))).toBe(true);
    expect(out.join('\n')).not.toContain(Buffer.from('bob:s3cret').toString('base64'));
  });

  it('over HTTPS', async () => {
    const material = await loadTls(path.join(dir, 'data'));
    const secure = new HeadRecorder({ cert: material.cert, key: material.key });
    const sport = await secure.listen();
    try {
      const { out } = await traced({ url: `https://127.0.0.1:${sport}/tls` }, { ca: material.cert });
      expect(secure.heads).toHaveLength(1);
      expect(out).toEqual(lines(secure.heads[0]!));
    } finally {
      await secure.close();
    }
  });

  it('through a proxy to https://: the CONNECT that opens the tunnel, then the request inside it', async () => {
    const material = await loadTls(path.join(dir, 'data'));
    const secure = new HeadRecorder({ cert: material.cert, key: material.key });
    const sport = await secure.listen();
    // a tunnelling proxy that keeps the CONNECT head it got
    const connects: string[] = [];
    const tunnel = net.createServer((c) => {
      c.on('error', () => {});
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString('latin1');
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        c.off('data', onData);
        connects.push(buf.slice(0, end + 4));
        const up = net.connect(sport, '127.0.0.1', () => {
          c.write('HTTP/1.1 200 Connection established\r\n\r\n');
          c.pipe(up).pipe(c);
        });
        up.on('error', () => c.destroy());
      };
      c.on('data', onData);
    });
    await new Promise<void>((r) => tunnel.listen(0, '127.0.0.1', r));
    const proxy = `http://bob:s3cret@127.0.0.1:${(tunnel.address() as net.AddressInfo).port}`;
    try {
      const { out } = await traced(
        { url: `https://127.0.0.1:${sport}/inside` },
        { proxy, ca: material.cert },
      );
      expect(connects).toHaveLength(1);
      const connect = lines(connects[0]!);
      expect(connect[0]).toBe(`CONNECT 127.0.0.1:${sport} HTTP/1.1`);
      expect(out).toEqual([...connect.map(masked), ...lines(secure.heads[0]!)]);
      expect(out.join('\n')).not.toContain(Buffer.from('bob:s3cret').toString('base64'));
    } finally {
      await new Promise((r) => tunnel.close(r));
      await secure.close();
    }
  });

  it('a request that never went out (connection refused) shows no C: lines', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const gone = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const client = new HttpClient({ proxy: '' });
    const events: TraceEvent[] = [];
    client.on('trace', (e: TraceEvent) => events.push(e));
    await expect(client.request({ url: `http://127.0.0.1:${gone}/`, form: { a: '1' } })).rejects.toThrow(
      /refused/,
    );
    await client.close();
    expect(events.filter((e) => e.kind === 'out')).toEqual([]);
    expect(events.some((e) => e.text.startsWith('request body'))).toBe(false);
  });

  it('only traced requests are watched: the heads of requests sent while nobody listens are not taken', async () => {
    // wireConnector wraps a socket's write only while its owner wants the head
    let wanted = false;
    const heads: string[] = [];
    const agent = new Agent({
      connect: wireConnector(
        buildConnector({}),
        (head) => heads.push(head),
        () => wanted,
      ),
    });
    try {
      const get = async (p: string) =>
        (await request(`http://127.0.0.1:${port}${p}`, { dispatcher: agent })).body.dump();
      await get('/quiet');
      expect(heads).toEqual([]);
      wanted = true;
      await get('/loud');
      expect(heads.map((h) => lines(h)[0])).toEqual(['GET /loud HTTP/1.1']);
    } finally {
      await agent.close();
    }
    // a client whose trace gets a listener between two requests on one connection
    const client = new HttpClient({ proxy: '' });
    const events: TraceEvent[] = [];
    try {
      await (await client.request({ url: `http://127.0.0.1:${port}/first` })).body.dump();
      client.on('trace', (e: TraceEvent) => events.push(e));
      await (await client.request({ url: `http://127.0.0.1:${port}/second` })).body.dump();
    } finally {
      await client.close();
    }
    expect(events.filter((e) => e.kind === 'out')[0]?.text).toBe('GET /second HTTP/1.1');
  });

  it('netkit http post --trace prints the same lines', async () => {
    const before = plain.heads.length;
    const r = await netkit(['http', 'post', '--trace', '-d', 'a=1', `http://127.0.0.1:${port}/cli`], {
      env: { http_proxy: '', all_proxy: '' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(plain.heads.length).toBe(before + 1);
    const shown = r.stderr
      .split('\n')
      .filter((l) => / C: /.test(l))
      .map((l) => l.slice(l.indexOf(' C: ') + 4));
    expect(shown).toEqual(lines(plain.heads.at(-1)!));
  });
});
