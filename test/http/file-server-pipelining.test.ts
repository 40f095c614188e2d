/**
 * Pipelined requests on one connection (RFC 9112 §9.3.2): answered in order, one at a time, and a
 * client that piles up more than `maxPipelined` unanswered ones is disconnected — it used to make
 * the server buffer a whole response body per request (gigabytes from one connection).
 */

import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { collectGarbage, watchProcessErrors } from '../helpers/fuzz.js';
import { tempDir } from '../helpers/net.js';
import { eventually, fileFdsUnder } from '../helpers/tls-hostile.js';

let server: FileServerHandle;
let cleanup: () => Promise<void>;
let dir: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-pipelining-'));
  for (const n of ['a', 'b', 'c', 'd']) await writeFile(path.join(dir, `${n}.txt`), `${n.repeat(3)}\n`);
  await writeFile(path.join(dir, 'big.bin'), Buffer.alloc(100_000, 7));
  server = await createFileServer({ root: dir, port: 0, maxPipelined: 3 });
});
afterAll(async () => {
  await server?.close();
  await cleanup();
});

/** Send `requests` in one write; resolve with everything the server sent until it closed. */
function pipeline(requests: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write(requests.join('')));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      got += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
  });
}

const get = (p: string, close = false) =>
  `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

describe('pipelined requests', () => {
  it('are answered in order, each with its own body', async () => {
    const got = await pipeline([get('/a.txt'), get('/b.txt'), get('/nope'), get('/d.txt', true)]);
    const statuses = [...got.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '200', '404', '200']);
    const bodies = [...got.matchAll(/\r\n\r\n(aaa|bbb|ddd)\n/g)].map((m) => m[1]);
    expect(bodies).toEqual(['aaa', 'bbb', 'ddd']);
  });

  it('more than maxPipelined waiting behind the first: the connection is closed', async () => {
    // one being answered, three waiting is the limit; a fifth is one too many
    const got = await pipeline([...Array.from({ length: 5 }, () => get('/big.bin')), get('/a.txt', true)]);
    const answered = [...got.matchAll(/HTTP\/1\.1 200 OK\r\n/g)].length;
    expect(answered).toBeLessThan(6);
    expect(got).not.toContain('aaa\n');
  });

  it('up to the limit is fine, with big bodies too', async () => {
    const got = await pipeline([...Array.from({ length: 3 }, () => get('/big.bin')), get('/a.txt', true)]);
    expect([...got.matchAll(/HTTP\/1\.1 200 OK\r\n/g)].length).toBe(4);
    expect(got.endsWith('aaa\n')).toBe(true);
  });

  // found by the mutation fuzzer (test/core/fuzz-http.test.ts): the unreadable second request
  // closes the connection while the first one's file is being opened; the multipart loop then
  // waited for a 'drain' from a response already closed, for good, and left the open file to the
  // garbage collector ("Closing file descriptor N on garbage collection")
  it('a multi-range request followed by an unreadable one leaves no file open', async () => {
    const range = 'GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-0,1-\r\n\r\n';
    const warnings = watchProcessErrors();
    try {
      for (let i = 0; i < 3; i++) await pipeline([range, 'JUNK\r\n\r\n']);
      expect(await eventually(() => fileFdsUnder(dir) === 0)).toBe(true);
      await collectGarbage();
      expect(warnings.take()).toEqual([]);
    } finally {
      warnings.stop();
    }
    // and the server still answers such a request in full
    const got = await pipeline([range.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')]);
    expect(got).toMatch(/^HTTP\/1\.1 206 /);
    expect(got).toMatch(/Content-Range: bytes 1-3\/4\r\n\r\naa\n\r\n--/);
  });
});
