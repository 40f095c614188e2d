/**
 * Hostile clients against the file server's HTTPS port, beyond file-server-tls.test.ts (one silent
 * client, one stalled handshake, one broken record, one client that stops reading): a crowd of 200
 * that never finishes its handshakes must leave every descriptor and connection slot behind it
 * free; a TLS 1.2 client that asks to renegotiate is refused and closed; a client
 * that resets in the middle of a big download leaves nothing behind.
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { tempDir } from '../helpers/net.js';
import {
  closesWithin,
  crowd,
  eventually,
  PARTIAL_CLIENT_HELLO,
  rawTlsClient,
  renegotiateUntilClosed,
  socketFds,
  socketFdsBackTo,
} from '../helpers/tls-hostile.js';

let root: string;
let cleanup: () => Promise<void>;
let material: TlsMaterial;
let server: FileServerHandle;

beforeAll(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir('netkit-http-tls-hostile-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'hello.txt'), 'hello\n');
  await writeFile(path.join(root, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 1));
  material = await loadTls(path.join(dir, 'data'));
  server = await createFileServer({
    root,
    port: 0,
    tlsOnly: true,
    tls: material,
    tlsHandshakeTimeoutMs: 300,
    maxConnections: 200,
    maxConnectionsPerIp: 200,
  });
});
afterAll(async () => {
  await server?.close(200);
  await cleanup?.();
});

/** GET /hello.txt over TLS on a fresh connection: the status line. */
async function hello(): Promise<string> {
  const c = await rawTlsClient(server.port);
  c.secure.write('GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  const [d] = await once(c.secure, 'data');
  c.raw.destroy();
  return String(d).split('\r\n')[0]!;
}

describe('HTTPS port: hostile clients', () => {
  it('200 clients that never finish a handshake (silent, a cut ClientHello, garbage) are dropped; descriptors and slots come back', async () => {
    const baseline = socketFds();
    const { allClosed } = await crowd(server.port, 200, (i) =>
      i % 3 === 0 ? undefined : i % 3 === 1 ? PARTIAL_CLIENT_HELLO : Buffer.from([0x00, 0xff, 0x13, 0x37]),
    );
    expect(await closesWithin(allClosed, 5000)).toBe(true);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(await eventually(() => server.connections === 0)).toBe(true);
    expect(await hello()).toBe('HTTP/1.1 200 OK');
  });

  it('refuses renegotiation: a TLS 1.2 client that asks is closed at its first attempt', async () => {
    const c = await rawTlsClient(server.port, { maxVersion: 'TLSv1.2' });
    const renegotiations = await renegotiateUntilClosed(c);
    expect(await closesWithin(c.closed, 3000)).toBe(true);
    expect(renegotiations).toBe(0);
  });

  it('a client that resets in the middle of a big download leaves nothing behind', async () => {
    await eventually(() => server.connections === 0);
    const baseline = socketFds();
    const c = await rawTlsClient(server.port);
    c.secure.write('GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await once(c.secure, 'data');
    c.raw.resetAndDestroy();
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(await eventually(() => server.connections === 0)).toBe(true);
    expect(await hello()).toBe('HTTP/1.1 200 OK');
  });
});
