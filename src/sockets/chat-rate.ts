/**
 * Per-client flood control for the chat server, as pure logic with an injectable clock.
 *
 * A {@link TokenBucket} lets a client send `burst` lines at once and then `perSecond` lines per
 * second. Lines over the limit are dropped (the server tells the client once per burst of drops).
 * A second bucket, `patience`, measures sustained abuse: every dropped line takes one token from it
 * and it refills at the same rate, so a client that keeps flooding empties it and is disconnected,
 * while a human who pastes a few lines too many only loses those lines.
 */

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Take one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last) / 1000;
    this.last = t;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.perSecond);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Tokens left now (for tests and diagnostics). */
  get available(): number {
    const elapsed = Math.max(0, this.now() - this.last) / 1000;
    return Math.min(this.capacity, this.tokens + elapsed * this.perSecond);
  }
}

export interface RateLimitOptions {
  /** lines a client may send at once (default 20) */
  burst?: number;
  /** sustained lines per second (default 5); 0 or Infinity disables the limit */
  perSecond?: number;
  /** dropped lines tolerated before the client is disconnected (default 100) */
  maxDropped?: number;
}

export const DEFAULT_RATE: Required<RateLimitOptions> = { burst: 20, perSecond: 5, maxDropped: 100 };

export type RateVerdict = 'ok' | 'drop-notify' | 'drop' | 'disconnect';

/** One client's limiter: `check()` per received line. */
export class RateLimiter {
  private readonly lines: TokenBucket | undefined;
  private readonly patience: TokenBucket | undefined;
  private dropping = false;

  constructor(options: RateLimitOptions = {}, now: () => number = Date.now) {
    const o = { ...DEFAULT_RATE, ...options };
    if (o.perSecond > 0 && Number.isFinite(o.perSecond)) {
      this.lines = new TokenBucket(Math.max(1, o.burst), o.perSecond, now);
      this.patience = new TokenBucket(Math.max(1, o.maxDropped), o.perSecond, now);
    }
  }

  /**
   * `ok`: relay the line. `drop-notify`: drop it and tell the client (first drop of a run).
   * `drop`: drop silently. `disconnect`: sustained flooding, close the connection.
   */
  check(): RateVerdict {
    if (!this.lines || !this.patience) return 'ok';
    if (this.lines.take()) {
      this.dropping = false;
      return 'ok';
    }
    if (!this.patience.take()) return 'disconnect';
    if (this.dropping) return 'drop';
    this.dropping = true;
    return 'drop-notify';
  }
}
