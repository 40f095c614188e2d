/**
 * Streamed RETR: `retrStream` hands a message of any size over as it arrives (no `maxBodyBytes`),
 * with backpressure down to the socket (the client stops reading the server while the reader is
 * behind, and its idle timeout does not run meanwhile); `retrEachStream` / `retrEach` keep the
 * RETRs in flight within a count and a byte budget. The flow control itself (BodyFlow) is
 * unit-tested first, without sockets.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Pop3Client, Pop3Error } from '../../src/mail/pop3-client.js';
import { BodyFlow } from '../../src/mail/pop3-client-body.js';
import {
  type FakeMessage,
  type FakePop3,
  fakePop3,
  header,
  messageHash,
  messageSize,
  textBlock,
} from './pop3-client-fake.js';

describe('BodyFlow (flow control between streamed bodies and the socket)', () => {
  function setup() {
    const calls: string[] = [];
    const flow = new BodyFlow({ pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    return { calls, flow };
  }
  const piece = (n: number) => Buffer.alloc(n, 0x61);

  it('pauses when a body is full, resumes once its reader took it below the mark', () => {
    const { calls, flow } = setup();
    const b = flow.open(100);
    b.write(piece(60));
    expect(calls).toEqual([]);
    b.write(piece(60)); // 120 buffered ≥ 100
    expect(calls).toEqual(['pause']);
    expect(flow.paused).toBe(true);
    b.write(piece(60)); // still behind: no second pause
    expect(calls).toEqual(['pause']);
    expect(b.readable.read()?.length).toBe(180);
    expect(calls).toEqual(['pause', 'resume']);
    expect(flow.paused).toBe(false);
    expect(b.bytes).toBe(180);
  });

  it('with two bodies behind, resumes only when both caught up', () => {
    const { calls, flow } = setup();
    const a = flow.open(10);
    const b = flow.open(10);
    a.write(piece(20));
    a.end();
    b.write(piece(20));
    expect(calls).toEqual(['pause']);
    b.readable.read();
    expect(calls).toEqual(['pause']);
    // an ended body is never asked for more: reading it to its end is what counts
    a.readable.read();
    expect(calls).toEqual(['pause']);
    a.readable.read(); // null: the end is reached, 'end' follows
    return new Promise<void>((resolve) => {
      a.readable.once('end', () => {
        expect(calls).toEqual(['pause', 'resume']);
        resolve();
      });
    });
  });

  it('a destroyed body lets the socket go on and drops the rest of its message', () => {
    const { calls, flow } = setup();
    const b = flow.open(10);
    b.write(piece(20));
    b.readable.destroy();
    expect(calls).toEqual(['pause', 'resume']);
    b.write(piece(1000));
    b.end();
    expect(calls).toEqual(['pause', 'resume']);
    expect(b.readable.readableLength).toBe(20); // nothing taken after the destroy
    expect(b.bytes).toBe(1020);
  });
});

const fakes: FakePop3[] = [];
const clients: Pop3Client[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of clients.splice(0)) c.close();
  for (const f of fakes.splice(0)) await f.close();
});

async function session(
  messages: FakeMessage[],
  opts: Parameters<typeof fakePop3>[1] & { maxBodyBytes?: number; timeout?: number } = {},
) {
  const fake = await fakePop3(messages, opts);
  fakes.push(fake);
  const client = await Pop3Client.connect({
    port: fake.port,
    maxBodyBytes: opts.maxBodyBytes,
    timeout: opts.timeout,
  });
  clients.push(client);
  await client.login('bob', 'pw');
  return { fake, client };
}

async function hashOf(stream: Readable): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { hash: h.digest('hex'), bytes };
}

/** 65,600 octets of text lines (some dot-stuffed on the wire) repeated `count` times. */
const big = (count: number, subject = 'big'): FakeMessage => ({
  head: header(subject),
  block: textBlock(800, 80, subject),
  count,
});

describe('Pop3Client.retrStream', () => {
  it('streams a message far over maxBodyBytes byte-exact, which retr() refuses', async () => {
    const msg = big(64); // 4 MiB
    const { client } = await session([msg, big(1, 'second')], { maxBodyBytes: 256 * 1024 });
    expect(await hashOf(client.retrStream(1))).toEqual({ hash: messageHash(msg), bytes: messageSize(msg) });
    // the session goes on: the next reply is in step
    expect(await client.noop()).toBe('');
    const err = await client.retr(1).catch((e) => e);
    expect(err.code).toBe('NETKIT_TOO_LARGE');
  });

  it('stops reading the server while its reader is behind, without the idle timeout running', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const msg = big(256); // 16 MiB: far more than the socket buffers hold
    const { client } = await session([msg], { timeout: 1000 });
    let resumed = 0;
    client.on('resume', () => resumed++);
    const paused = new Promise<'paused'>((resolve) => client.once('pause', () => resolve('paused')));
    const body = client.retrStream(1, { highWaterMark: 16 * 1024 });
    // pipelined behind the RETR: its reply can only be read after the whole message
    let noopDone = false;
    const noop = client.noop().then(() => {
      noopDone = true;
      return 'noop answered' as const;
    });
    // nothing reads `body` yet: without backpressure the whole message (and the NOOP reply) is read
    expect(await Promise.race([paused, noop])).toBe('paused');
    expect(body.readableLength).toBeGreaterThanOrEqual(16 * 1024);
    expect(body.readableLength).toBeLessThanOrEqual(16 * 1024 + 64 * 1024);
    // the wait is the reader's: the idle timeout is not running (it would fail the connection)
    vi.advanceTimersByTime(60_000);
    expect(noopDone).toBe(false);
    expect(await hashOf(body)).toEqual({ hash: messageHash(msg), bytes: messageSize(msg) });
    expect(await noop).toBe('noop answered');
    expect(resumed).toBeGreaterThan(0);
  });

  it('a reader that gives up: the rest is dropped and the session stays usable', async () => {
    const second = big(1, 'second');
    const { client } = await session([big(64), second]);
    const body = client.retrStream(1, { highWaterMark: 16 * 1024 });
    for await (const _chunk of body) break; // destroys it
    expect(body.destroyed).toBe(true);
    expect(await client.noop()).toBe('');
    expect(await hashOf(client.retrStream(2))).toEqual({
      hash: messageHash(second),
      bytes: messageSize(second),
    });
  });

  it('-ERR errors the stream with a Pop3Error; the session stays usable', async () => {
    const { client } = await session([big(1)]);
    const err = await hashOf(client.retrStream(7)).catch((e) => e);
    expect(err).toBeInstanceOf(Pop3Error);
    expect(err.message).toBe('RETR 7: -ERR no such message');
    expect(await client.noop()).toBe('');
    const bad = await hashOf(client.retrStream(0)).catch((e) => e);
    expect(bad.code).toBe('NETKIT_INVALID_INPUT');
  });

  it('a connection lost in the middle errors the stream', async () => {
    const { client } = await session([big(16)], { dieIn: { n: 1, after: 300_000 } });
    const err = await hashOf(client.retrStream(1)).catch((e) => e);
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.message).toMatch(/connection closed by 127\.0\.0\.1:\d+ in the middle of the reply to RETR 1/);
  });
});

describe('pipelined RETR within a count and a byte budget', () => {
  /** Ten messages of about 197 kB and one of 1.3 MB, and the RETRs in flight at the server. */
  async function measured(pipelining = true) {
    const messages = Array.from({ length: 10 }, (_, i) => big(3, `m${i + 1}`));
    messages.splice(4, 0, big(20, 'huge'));
    let handled = 0;
    let received = 0;
    let maxInFlight = 0;
    const { client, fake } = await session(messages, {
      pipelining,
      // in flight = sent by the client and not yet handled by it
      onRetr: () => {
        received++;
        maxInFlight = Math.max(maxInFlight, received - handled);
      },
    });
    const listing = await client.list();
    return {
      client,
      fake,
      messages,
      listing,
      done: () => handled++,
      maxInFlight: () => maxInFlight,
    };
  }

  it('retrEachStream: as many as fit in windowBytes by LIST size, at least one, in order', async () => {
    const m = await measured();
    const hashes: string[] = [];
    await m.client.retrEachStream(
      m.listing,
      async (n, body) => {
        expect(n).toBe(hashes.length + 1);
        hashes.push((await hashOf(body)).hash);
        m.done();
      },
      { windowBytes: 600_000 },
    );
    expect(hashes).toEqual(m.messages.map(messageHash));
    // 3 × 197 kB fit in 600,000 octets, 4 do not; the 1.3 MB message went alone
    expect(m.maxInFlight()).toBe(3);
    // the count still applies
    const again = await measured();
    await again.client.retrEachStream(
      again.listing,
      async (_n, body) => {
        await hashOf(body);
        again.done();
      },
      { window: 2 },
    );
    expect(again.maxInFlight()).toBe(2);
  });

  it('retrEach (messages in memory) keeps the same budget; one at a time without PIPELINING', async () => {
    const m = await measured();
    const sizes: number[] = [];
    await m.client.retrEach(
      m.listing,
      (_n, msg) => {
        sizes.push(msg.length);
        m.done();
      },
      { windowBytes: 400_000 },
    );
    expect(sizes).toEqual(m.messages.map(messageSize));
    expect(m.maxInFlight()).toBe(2);
    const plain = await measured(false);
    await plain.client.retrEachStream(plain.listing, async (_n, body) => {
      await hashOf(body);
      plain.done();
    });
    expect(plain.maxInFlight()).toBe(1);
  });

  it('a failing handler drops the messages in flight and leaves the session usable', async () => {
    const m = await measured();
    const err = await m.client
      .retrEachStream(m.listing, async (n) => {
        m.done();
        if (n === 2) throw new Error('disk full');
      })
      .catch((e) => e);
    expect(err.message).toBe('disk full');
    expect(await m.client.noop()).toBe('');
  });
});
