/**
 * The upload loop on its own, over real loopback sockets accepted the way the data channel accepts
 * them (paused): every byte lands in the file with synchronous and asynchronous writes, with the
 * socket's own reads (TYPE I) and the stream reader (TYPE A); a connection reset while data is
 * still queued is a broken upload, never a complete one; the shared block pool reuses blocks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/core/throttle.js';
import { giveBlock, takeBlock } from '../../src/ftp/blocks.js';
import { receiveFile, type TransferOutcome, WRITE_BUFFER } from '../../src/ftp/transfer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'netkit-transfer-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A connected pair: `server` as the data channel gets it (paused, nothing read yet). */
async function socketPair(): Promise<{ server: net.Socket; client: net.Socket }> {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    client.once('connect', () => r());
    client.once('error', j);
  });
  const server = await accepted;
  listener.close();
  server.on('error', () => {});
  client.on('error', () => {});
  return { server, client };
}

async function receive(
  name: string,
  server: net.Socket,
  opts: {
    ascii?: boolean;
    slowIoMs?: number;
    start?: number;
    bucket?: TokenBucket;
    guard?: (bytes: number) => Error | undefined;
  } = {},
): Promise<TransferOutcome> {
  const file = await open(path.join(dir, name), opts.start ? 'r+' : 'w');
  return receiveFile(
    {
      socket: server,
      signal: new AbortController().signal,
      onBytes: () => {},
      idleTimeoutMs: 0,
      ...(opts.slowIoMs !== undefined ? { slowIoMs: opts.slowIoMs } : {}),
      ...(opts.bucket ? { bucket: opts.bucket } : {}),
      ...(opts.guard ? { guard: opts.guard } : {}),
    },
    file,
    { start: opts.start, ascii: opts.ascii ?? false },
  );
}

describe('receiveFile', () => {
  it.each<[string, { ascii?: boolean; slowIoMs?: number }]>([
    ['synchronous writes', {}],
    ['asynchronous writes (more than the write buffer)', { slowIoMs: -1 }],
    ['the stream reader (TYPE A, no CR in the data)', { ascii: true }],
    ['the stream reader with asynchronous writes', { ascii: true, slowIoMs: -1 }],
  ])('writes every byte of a cleanly closed upload: %s', async (_label, opts) => {
    const size = WRITE_BUFFER + 3 * 1024 * 1024 + 123;
    const payload = opts.ascii ? Buffer.alloc(size, 'a') : randomBytes(size);
    const { server, client } = await socketPair();
    const name = `clean-${opts.ascii ? 'a' : 'i'}-${opts.slowIoMs ?? 0}.bin`;
    const outcome = receive(name, server, opts);
    client.end(payload);
    expect(await outcome).toEqual({ ok: true, bytes: size });
    expect((await readFile(path.join(dir, name))).equals(payload)).toBe(true);
  });

  it('writes at the REST offset and keeps what is before it', async () => {
    const name = 'rest.bin';
    const head = randomBytes(1000);
    const tail = randomBytes(700_000);
    await writeFile(path.join(dir, name), Buffer.concat([head, randomBytes(50)]));
    const { server, client } = await socketPair();
    const outcome = receive(name, server, { start: head.length });
    client.end(tail);
    expect((await outcome).ok).toBe(true);
    expect((await readFile(path.join(dir, name))).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  // libuv turns a reset that arrives while data is queued into a clean end-of-stream when its last
  // read was short (100,000 bytes is not a whole number of read buffers): the upload must still be
  // reported broken. The client resets before the server reads anything; whether the reset reaches
  // the server before or after its first read, the answer must be the same.
  it.each([
    ['socket reads (TYPE I)', false],
    ['the stream reader (TYPE A)', true],
  ])(
    'a reset with data still queued is a broken upload, every received byte written: %s',
    async (_label, ascii) => {
      const payload = ascii ? Buffer.alloc(100_000, 'b') : randomBytes(100_000);
      const { server, client } = await socketPair();
      await new Promise<void>((r) => client.write(payload, () => r()));
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      client.resetAndDestroy();
      await closed;
      const name = `reset-${ascii ? 'a' : 'i'}.bin`;
      const outcome = await receive(name, server, { ascii });
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.reason).toBe('connection');
      const stored = await readFile(path.join(dir, name));
      expect(stored.length).toBe(outcome.bytes);
      expect(stored.equals(payload.subarray(0, stored.length))).toBe(true);
    },
  );
});

const MODES: Array<[string, { ascii?: boolean; slowIoMs?: number }]> = [
  ['synchronous writes', {}],
  ['asynchronous writes', { slowIoMs: -1 }],
  ['the stream reader (TYPE A)', { ascii: true }],
  ['the stream reader with asynchronous writes', { ascii: true, slowIoMs: -1 }],
];

describe('receiveFile under limits', () => {
  it.each(MODES)(
    "a guard's error stops the upload as a local failure, and it settles: %s",
    async (_label, opts) => {
      const size = WRITE_BUFFER + 2 * 1024 * 1024;
      const { server, client } = await socketPair();
      const limit = 3 * 1024 * 1024;
      const seen: number[] = [];
      const outcome = receive(`guard-${opts.ascii ? 'a' : 'i'}-${opts.slowIoMs ?? 0}.bin`, server, {
        ...opts,
        guard: (bytes) => {
          seen.push(bytes);
          return bytes > limit ? Object.assign(new Error('too big'), { code: 'EFBIG' }) : undefined;
        },
      });
      client.on('error', () => {});
      client.end(Buffer.alloc(size, 'g'));
      const o = await outcome;
      expect(o.ok).toBe(false);
      if (!o.ok) {
        expect(o.reason).toBe('local');
        expect((o.error as NodeJS.ErrnoException).code).toBe('EFBIG');
      }
      // the guard saw the count grow and stopped it at the first read past the limit
      expect(seen.at(-1)).toBeGreaterThan(limit);
      expect(seen.filter((b) => b > limit)).toHaveLength(1);
      expect(server.destroyed).toBe(true);
    },
  );

  it.each(MODES)('a bucket paces the upload and every byte still arrives: %s', async (_label, opts) => {
    const size = 150_000;
    const payload = opts.ascii ? Buffer.alloc(size, 'p') : randomBytes(size);
    const { server, client } = await socketPair();
    const name = `paced-${opts.ascii ? 'a' : 'i'}-${opts.slowIoMs ?? 0}.bin`;
    const bucket = new TokenBucket(300_000);
    const started = performance.now();
    const outcome = receive(name, server, { ...opts, bucket });
    client.end(payload);
    expect(await outcome).toEqual({ ok: true, bytes: size });
    // the last read is never waited for, so at most one burst (15,000 bytes) and one read ahead of
    // 300,000 bytes/s: reads are a burst long on the socket-read path, 64 KiB on the stream reader's
    const lastRead = opts.ascii ? 64 * 1024 : bucket.burst;
    const floorMs = ((size - bucket.burst - lastRead) / 300_000) * 1000;
    expect(performance.now() - started).toBeGreaterThanOrEqual(floorMs - 5);
    expect((await readFile(path.join(dir, name))).equals(payload)).toBe(true);
  });
});

describe('block pool', () => {
  it('hands out blocks of the size asked and reuses a block given back', () => {
    const a = takeBlock(512 * 1024);
    const b = takeBlock(512 * 1024);
    expect(a.length).toBe(512 * 1024);
    expect(b.length).toBe(512 * 1024);
    a[0] = 1;
    b[0] = 2;
    expect(a[0]).toBe(1); // distinct memory
    giveBlock(a);
    expect(takeBlock(512 * 1024)).toBe(a);
    const odd = takeBlock(1000); // not a whole number of 64 KiB pages: an ordinary buffer
    expect(odd.length).toBe(1000);
    giveBlock(odd);
    expect(takeBlock(1000)).not.toBe(odd);
    giveBlock(b);
  });
});
