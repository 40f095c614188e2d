/**
 * A download whose client never reads its data connection. Once the kernel's socket buffers are
 * full the server stops reading the file and waits for `'drain'`; while it waits it must hold at
 * most one small block in user space (500 such clients used to pin 4 MiB each), and the data
 * connection's idle timeout must end the transfer (426) and give every block back.
 *
 * "The server stopped reading the file" is observed, not waited for: the send loop registers its
 * `'drain'` listener on the data socket exactly when it stops, and the check runs in the check
 * phase of that loop turn, after the write callbacks of the blocks the kernel took.
 */
import { once } from 'node:events';
import { mkdir, open, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldBlockBytes } from '../../src/ftp/blocks.js';
import type { FtpSessionEvent } from '../../src/ftp/session.js';
import { sendFile, type TransferOutcome } from '../../src/ftp/transfer.js';
import { startServe, tempDir } from '../helpers/net.js';
import { type Fixture, loginAlice, nextSessionEvent, startFixture } from './fixture.js';
import { RawFtp } from './raw-client.js';

/** What a stalled download may keep in user space beyond the kernel's socket buffer. */
const BOUND = 512 * 1024;
const BIG = 64 * 1024 * 1024;

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-stalled-'));
  await writeFile(path.join(dir, 'big.bin'), '');
  await truncate(path.join(dir, 'big.bin'), BIG);
  // TYPE A's worst case: every byte an LF, so the CRLF copy is twice the block
  await writeFile(path.join(dir, 'lines.txt'), Buffer.alloc(16 * 1024 * 1024, 10));
});
afterAll(() => cleanup());

/** A connected pair as the data channel has it; the client never reads (it stops at its high-water mark). */
async function socketPair(): Promise<{ server: net.Socket; client: net.Socket }> {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  listener.close();
  client.pause();
  server.on('error', () => {});
  client.on('error', () => {});
  return { server, client };
}

interface Stalled {
  /** bytes read from the file and handed to the socket when it stopped */
  read: number;
  /** pool blocks held then */
  held: number;
  /** bytes queued in the socket's user-space buffer then (not taken by the kernel) */
  queued: number;
}

/**
 * Run sendFile to a client that never reads; resolve with the state at the first moment the loop
 * waits for 'drain' and is still waiting at the end of that loop turn, then abort the transfer.
 */
async function stall(name: string, ascii: boolean): Promise<{ stalled: Stalled; outcome: TransferOutcome }> {
  const { server, client } = await socketPair();
  const fh = await open(path.join(dir, name), 'r');
  const abort = new AbortController();
  let read = 0;
  const stopped = new Promise<Stalled>((resolve) => {
    server.on('newListener', (event) => {
      if (event !== 'drain') return;
      setImmediate(() => {
        if (server.writableNeedDrain && server.listenerCount('drain') > 0)
          resolve({ read, held: heldBlockBytes(), queued: server.writableLength });
      });
    });
  });
  const outcome = sendFile(
    { socket: server, signal: abort.signal, idleTimeoutMs: 0, onBytes: (n) => (read += n) },
    fh,
    { start: 0, ascii },
  );
  const stalled = await stopped;
  abort.abort();
  const result = await outcome;
  if (!server.closed) await once(server, 'close');
  client.destroy();
  return { stalled, outcome: result };
}

describe('a download whose client stops reading', () => {
  it('TYPE I: holds one small block while it waits, and gives it back when the transfer ends', async () => {
    expect(heldBlockBytes()).toBe(0);
    const { stalled, outcome } = await stall('big.bin', false);
    expect(stalled.read).toBeGreaterThan(0);
    expect(stalled.read).toBeLessThan(BIG);
    expect(stalled.held).toBeGreaterThan(0);
    expect(stalled.held).toBeLessThanOrEqual(BOUND);
    expect(stalled.queued).toBeLessThanOrEqual(BOUND);
    expect(outcome).toMatchObject({ ok: false, reason: 'aborted' });
    expect(heldBlockBytes()).toBe(0);
  });

  it('TYPE A: the CRLF copy queued in the socket stays within the bound too', async () => {
    const { stalled, outcome } = await stall('lines.txt', true);
    expect(stalled.read).toBeGreaterThan(0);
    expect(stalled.held).toBeLessThanOrEqual(BOUND);
    expect(stalled.queued).toBeLessThanOrEqual(BOUND);
    expect(outcome).toMatchObject({ ok: false, reason: 'aborted' });
    expect(heldBlockBytes()).toBe(0);
  });
});

describe('a stalled RETR on the server', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture({ limits: { dataIdleTimeoutMs: 300, progressIntervalMs: 0 } });
    await writeFile(path.join(fx.root, 'home/alice/big.bin'), '');
    await truncate(path.join(fx.root, 'home/alice/big.bin'), BIG);
  });
  afterAll(() => fx.cleanup());

  it('is ended by the data idle timeout (426), gives its blocks back and leaves the session usable', async () => {
    const c = await loginAlice(fx);
    const data = await c.epsv();
    data.pause();
    const ended = nextSessionEvent(
      fx,
      (e: FtpSessionEvent) => e.event === 'transfer' && e.transfer?.state === 'failed',
    );
    expect((await c.cmd('RETR big.bin')).code).toBe(150);
    const last = await c.reply(10_000);
    expect(last.code).toBe(426);
    expect(last.text).toMatch(/idle for 300 ms/);
    const event = await ended;
    expect(event.transfer?.bytes).toBeGreaterThan(0);
    expect(event.transfer?.bytes).toBeLessThan(BIG);
    // the server closed its side before it answered: its pending write was cancelled then
    expect(heldBlockBytes()).toBe(0);
    data.destroy();
    expect((await c.cmd('PWD')).code).toBe(257);
    c.close();
  });
});

describe('netkit ftp serve --data-idle-timeout', () => {
  it('ends a RETR whose client stopped reading after that long (426)', async () => {
    const root = path.join(dir, 'cli-tree');
    await mkdir(path.join(root, 'pub'), { recursive: true });
    await writeFile(path.join(root, 'pub/big.bin'), '');
    await truncate(path.join(root, 'pub/big.bin'), BIG);
    const srv = await startServe([
      'ftp',
      'serve',
      '--port',
      '0',
      '--no-tls',
      '--root',
      root,
      '--data',
      path.join(dir, 'cli-data'),
      '--data-idle-timeout',
      '300ms',
      '-q',
    ]);
    try {
      const c = await RawFtp.connect(srv.listening[0]!.port);
      await c.login('anonymous', 'guest@example.org');
      await c.cmd('TYPE I');
      const data = await c.epsv();
      data.pause();
      expect((await c.cmd('RETR /pub/big.bin')).code).toBe(150);
      const last = await c.reply(10_000);
      expect(`${last.code} ${last.text}`).toMatch(/^426 .*idle for 300 ms/);
      data.destroy();
      c.close();
    } finally {
      await srv.stop();
    }
  });
});
