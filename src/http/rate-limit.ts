/**
 * `--limit-rate RATE` for `netkit http`: a body read no faster than RATE bytes per second, through
 * the token bucket of throttle.ts (the file server's), on the client side. The bucket lends a small
 * burst (1/20 of a second's worth, at most 64 KiB) and makes each piece wait for its tokens, so
 * the average stays at RATE. Reading slowly is what limits the transfer: the socket is paused
 * while we wait and TCP's window tells the server to slow down, as with curl's --limit-rate. The
 * clock is injectable so the pacing is tested without waiting.
 */
import { NetkitError } from '../core/errors.js';
import { parseByteSize } from '../core/format.js';
import { TokenBucket } from '../core/throttle.js';

export interface RateClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: RateClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A `--limit-rate` value, as curl reads it: bytes per second, or with a suffix `k`/`K`, `m`/`M`,
 * `g`/`G`, `t`, `p` (1024-based: `100K` = 102400); decimals are accepted too (`1.5M`), where curl
 * 7.88 has whole numbers only. `0` means no limit.
 */
export function parseRate(text: string): number {
  const rate = parseByteSize(text);
  if (rate === undefined)
    throw new NetkitError(
      'NETKIT_USAGE',
      `bad rate ${JSON.stringify(text)} (bytes per second, e.g. 50000, 100K, 1M, 1.5G)`,
    );
  return rate;
}

/** `source` paced to `bytesPerSecond` (at most one bucket's burst per piece). */
export async function* limitRate(
  source: AsyncIterable<Uint8Array>,
  bytesPerSecond: number,
  clock: RateClock = realClock,
): AsyncGenerator<Uint8Array> {
  const bucket = new TokenBucket(bytesPerSecond, undefined, clock.now());
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length; ) {
      const piece = chunk.subarray(off, off + bucket.burst);
      off += piece.length;
      const wait = bucket.reserve(piece.length, clock.now());
      if (wait > 0) await clock.sleep(wait);
      yield piece;
    }
  }
}
