/**
 * Request bodies `http serve` does not want (unread-body.ts). It used to read every one to its end,
 * however long: a 100 MB POST was read in full before the next request, a client streaming without
 * end kept a connection and a CPU busy for good. Now, as with nginx, a declared body over
 * `maxBodyBytes` is answered 413 without being read and the connection closed; a body left unread
 * is thrown away only up to the limit; and a connection closed while a body still arrives lingers,
 * so that a client still sending (Python's urllib) reads the answer instead of "Broken pipe".
 * Driven with raw sockets, Python's urllib and curl.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { responseStatuses, run, startServe, tempDir } from '../helpers/net.js';

const LIMIT = 64 * 1024;
/** far more than any bound the server keeps: a client that gets to send it all was never cut off */
const ENDLESS = 256 * 1024 * 1024;

let server: FileServerHandle;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-body-'));
  await writeFile(path.join(dir, 'hello.txt'), 'hello, world\n');
  await writeFile(path.join(dir, 'upload.bin'), Buffer.alloc(4 * LIMIT, 0x61));
  server = await createFileServer({ root: dir, port: 0, maxBodyBytes: LIMIT });
});
afterAll(async () => {
  await server?.close();
  await cleanup();
});

interface Upload {
  /** everything the server sent */
  reply: string;
  /** body bytes written before the server closed (or all of them) */
  sent: number;
}

/**
 * Send `head`, then up to `bodyBytes` of body (as chunks when `chunked`) as fast as the server
 * reads it, then `after`; resolve once the server has closed its side (a FIN or a reset).
 */
function upload(
  head: string,
  bodyBytes: number,
  opts: { chunked?: boolean; after?: string } = {},
): Promise<Upload> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let reply = '';
    let sent = 0;
    let closed = false;
    const done = (): void => {
      closed = true;
      socket.destroy();
      resolve({ reply, sent });
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      reply += d;
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => {});
    const block = Buffer.alloc(64 * 1024, 0x78);
    const pump = async (): Promise<void> => {
      socket.write(head);
      while (!closed && sent < bodyBytes) {
        const piece = block.subarray(0, Math.min(block.length, bodyBytes - sent));
        sent += piece.length;
        const chunk = opts.chunked
          ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
          : piece;
        if (!socket.write(chunk))
          await new Promise((r) => {
            socket.once('drain', r);
            socket.once('close', r);
          });
      }
      if (closed) return;
      if (opts.chunked) socket.write('0\r\n\r\n');
      if (opts.after) socket.write(opts.after);
    };
    socket.once('connect', () => void pump());
  });
}

const head = (method: string, framing: string, extra = '') =>
  `${method} /hello.txt HTTP/1.1\r\nHost: localhost\r\n${framing}\r\n${extra}\r\n`;
const GET_AND_CLOSE = 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

describe('http serve: request bodies it does not want', () => {
  it.each(['POST', 'PUT', 'GET', 'HEAD', 'DELETE'])(
    '%s declaring a body over the limit: 413 before the body is read, and the connection closes',
    async (method) => {
      const r = await upload(head(method, `Content-Length: ${LIMIT + 1}`), 0, { after: GET_AND_CLOSE });
      expect(responseStatuses(r.reply)).toEqual(['413']);
      expect(r.reply).toContain('\r\nConnection: close\r\n');
      expect(r.reply).not.toContain('hello, world');
    },
  );

  it('a body within the limit is read and thrown away, and the connection kept', async () => {
    for (const framing of [`Content-Length: ${LIMIT}`, 'Transfer-Encoding: chunked']) {
      const r = await upload(head('POST', framing), LIMIT, {
        chunked: framing.includes('chunked'),
        after: GET_AND_CLOSE,
      });
      expect(responseStatuses(r.reply), framing).toEqual(['405', '200']);
      expect(r.reply.endsWith('hello, world\n')).toBe(true);
    }
  });

  it('a chunked body that grows past the limit is cut off once its request is answered', async () => {
    const r = await upload(head('POST', 'Transfer-Encoding: chunked'), ENDLESS, { chunked: true });
    expect(responseStatuses(r.reply)).toEqual(['405']);
    expect(r.sent).toBeLessThan(ENDLESS);
    // a GET carrying one too: the file is sent, then the connection closed
    const g = await upload(head('GET', 'Transfer-Encoding: chunked'), ENDLESS, { chunked: true });
    expect(responseStatuses(g.reply)).toEqual(['200']);
    expect(g.sent).toBeLessThan(ENDLESS);
  });

  it('after a 413 the rest of the body is thrown away up to a bound, then the connection closes', async () => {
    const r = await upload(head('PUT', `Content-Length: ${ENDLESS * 4}`), ENDLESS);
    expect(responseStatuses(r.reply)).toEqual(['413']);
    expect(r.sent).toBeLessThan(ENDLESS);
    // and the server answers others as before
    const other = await upload(GET_AND_CLOSE, 0);
    expect(responseStatuses(other.reply)).toEqual(['200']);
  });

  it('Expect: 100-continue with a body over the limit: 413 at once, no invitation', async () => {
    const r = await upload(head('GET', `Content-Length: ${LIMIT + 1}\r\nExpect: 100-continue`), 0);
    expect(responseStatuses(r.reply)).toEqual(['413']);
  });

  it('a client that sends its whole body before reading (Python urllib) gets the status, not a broken pipe', async () => {
    // urllib sends `Connection: close`: node:http closed the socket as soon as the answer was
    // written, and the unread body made the kernel reset the connection under the client's feet
    const script = `
import sys, urllib.request, urllib.error
url, method, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    urllib.request.urlopen(urllib.request.Request(url, data=b"x" * size, method=method))
    print("no error")
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get("Connection"))
`;
    const url = `http://127.0.0.1:${server.port}/hello.txt`;
    for (const [method, size, answer] of [
      ['PUT', 20_000_000, '413 close'],
      ['GET', 20_000_000, '413 close'],
      ['POST', LIMIT, '405 close'],
    ] as const) {
      const r = await run('/usr/bin/python3', ['-c', script, url, method, String(size)]);
      expect(r.stdout.trim(), `${method} ${size}: ${r.stderr}`).toBe(answer);
    }
  });

  it('curl, with and without Expect: 100-continue, is answered 413 and sends no body first', async () => {
    const file = path.join(dir, 'upload.bin');
    const url = `http://127.0.0.1:${server.port}/hello.txt`;
    const w = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_upload}'];
    const put = await run('curl', [...w, '-T', file, url]);
    expect(put.stdout).toBe('413 0');
    const post = await run('curl', [...w, '-H', 'Expect:', '--data-binary', `@${file}`, url]);
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/^413 /);
  });

  it('netkit http serve --max-body sets the limit', async () => {
    const serve = await startServe(['http', 'serve', dir, '--port', '0', '--max-body', '10k']);
    try {
      const port = serve.listening[0]!.port;
      const ask = (length: number) =>
        new Promise<string>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () =>
            s.write(`POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${length}\r\n\r\n`),
          );
          s.setEncoding('latin1');
          s.once('data', (d: string) => {
            s.destroy();
            resolve(d.slice(0, 12));
          });
        });
      expect(await ask(10 * 1024 + 1)).toBe('HTTP/1.1 413');
      expect(await ask(10 * 1024)).toBe('HTTP/1.1 405');
    } finally {
      await serve.stop();
    }
  });
});
