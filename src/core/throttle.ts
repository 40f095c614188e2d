/**
 * Bandwidth limiting: a token bucket and a Transform that releases bytes only as fast as the bucket
 * allows. Backpressure is preserved end to end: the Transform does not ask for the next chunk until
 * it has pushed this one, so `pipeline()` stops reading its source while the far end is full.
 * Used by the file server's `--rate-limit` (one bucket per connection, so keep-alive requests share
 * one budget, where nginx's `limit_rate` is per request), the HTTP client's `--limit-rate` and the
 * FTP client's `--limit-rate` (one bucket per transfer, as in curl).
 */
import { Transform } from 'node:stream';

/** A token bucket that allows debt: `reserve(n)` takes n tokens now and says how long to wait. */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(bytesPerSecond: number, burst?: number, now = performance.now()) {
    if (!(bytesPerSecond > 0)) throw new RangeError('rate must be > 0');
    this.rate = bytesPerSecond;
    this.burst = Math.max(1, Math.floor(burst ?? Math.min(64 * 1024, Math.ceil(bytesPerSecond / 20))));
    this.tokens = this.burst;
    this.last = now;
  }

  /** Take `n` tokens; returns the milliseconds to wait before sending them (0 if available). */
  reserve(n: number, now = performance.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }
}

/** A pass-through stream paced by `bucket`, in pieces no larger than its burst. */
export function throttle(bucket: TokenBucket): Transform {
  let timer: NodeJS.Timeout | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let off = 0;
      const step = (): void => {
        timer = undefined;
        while (off < chunk.length) {
          const piece = chunk.subarray(off, off + bucket.burst);
          off += piece.length;
          const wait = bucket.reserve(piece.length);
          if (wait > 0) {
            timer = setTimeout(() => {
              this.push(piece);
              step();
            }, wait);
            return;
          }
          this.push(piece);
        }
        done();
      };
      step();
    },
    destroy(err, cb) {
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });
}
