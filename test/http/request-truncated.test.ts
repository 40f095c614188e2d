/**
 * A hostile server that announces a body and closes the connection before sending all of it: the
 * error says how much arrived of how much was announced (curl: "transfer closed with N bytes
 * remaining to read"), or for a chunked body that it ended before its last chunk — not only that
 * the connection "closed unexpectedly". The code stays NETKIT_PROTOCOL.
 */
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../src/http/request.js';
import { netkit, tempDir } from '../helpers/net.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that answers the first request on each connection with `response`, then closes. */
async function cutting(response: Buffer | string): Promise<string> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    // the request has arrived (its first bytes, which is all this server waits for)
    s.once('data', () => s.end(response));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const head = (...headers: string[]) => `HTTP/1.1 200 OK\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;

const failure = (url: string, compressed = false) =>
  httpRequest({ url, compressed }).then(
    () => expect.unreachable('the request succeeded'),
    (e: unknown) => e,
  );

describe('a response body cut short by the server', () => {
  it('with Content-Length: how many bytes arrived of how many announced', async () => {
    const at = await cutting(head('Content-Length: 5000') + 'x'.repeat(1000));
    expect(await failure(`http://${at}/`)).toMatchObject({
      code: 'NETKIT_PROTOCOL',
      message: `connection to ${at} closed after 1000 of 5000 body bytes (Content-Length)`,
    });
  });

  it('counts the bytes as sent, before Content-Encoding is undone', async () => {
    const gz = gzipSync('hello '.repeat(2000));
    const at = await cutting(
      Buffer.concat([
        Buffer.from(head('Content-Encoding: gzip', `Content-Length: ${gz.length}`)),
        gz.subarray(0, 20),
      ]),
    );
    expect(await failure(`http://${at}/`, true)).toMatchObject({
      code: 'NETKIT_PROTOCOL',
      message: `connection to ${at} closed after 20 of ${gz.length} body bytes (Content-Length)`,
    });
  });

  it('chunked, in the middle of a chunk', async () => {
    const at = await cutting(head('Transfer-Encoding: chunked') + `400\r\n${'x'.repeat(100)}`);
    expect(await failure(`http://${at}/`)).toMatchObject({
      code: 'NETKIT_PROTOCOL',
      message: `connection to ${at} closed after 100 bytes of a chunked body, before its last chunk`,
    });
  });

  it('chunked, between chunks (no last chunk)', async () => {
    const at = await cutting(head('Transfer-Encoding: chunked') + '4\r\nabcd\r\n');
    expect(await failure(`http://${at}/`)).toMatchObject({
      code: 'NETKIT_PROTOCOL',
      message: `connection to ${at} closed after 4 bytes of a chunked body, before its last chunk`,
    });
  });

  it('netkit http get prints it as one line, to stdout or to a file', async () => {
    const at = await cutting(head('Content-Length: 5000') + 'x'.repeat(1000));
    const line = `netkit: connection to ${at} closed after 1000 of 5000 body bytes (Content-Length)\n`;
    const toStdout = await netkit(['http', 'get', `http://${at}/`]);
    expect([toStdout.code, toStdout.stderr]).toEqual([1, line]);
    // the file is opened before the body is read: the bytes that came meanwhile count too
    const { dir, cleanup } = await tempDir();
    try {
      const toFile = await netkit(['http', 'get', `http://${at}/`, '-o', path.join(dir, 'f')]);
      expect([toFile.code, toFile.stderr]).toEqual([1, line]);
    } finally {
      await cleanup();
    }
    const chunked = await cutting(head('Transfer-Encoding: chunked') + `400\r\n${'x'.repeat(100)}`);
    const cut = await netkit(['http', 'get', `http://${chunked}/`]);
    expect([cut.code, cut.stderr]).toEqual([
      1,
      `netkit: connection to ${chunked} closed after 100 bytes of a chunked body, before its last chunk\n`,
    ]);
  });
});
