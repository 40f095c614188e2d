/**
 * Brute-force brake for logins, per client IP: every failure costs the client a delay (the session
 * waits before answering 530), and `maxFailures` failures within `windowMs` lock that IP out for
 * `lockoutMs` (new connections and logins get 421). Memory is bounded: at most `maxTracked` IPs are
 * remembered, oldest forgotten first.
 */
export interface LoginGuardOptions {
  /** delay before answering a failed login (default 1000 ms) */
  failureDelayMs?: number;
  /** failures per IP within the window that trigger a lockout (default 5) */
  maxFailures?: number;
  /** the window failures are counted in (default 10 minutes) */
  windowMs?: number;
  /** how long a locked IP stays locked (default 60 s) */
  lockoutMs?: number;
  maxTracked?: number;
}

interface Record {
  failures: number[];
  lockedUntil: number;
}

export class LoginGuard {
  readonly failureDelayMs: number;
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
  private readonly maxTracked: number;
  private readonly ips = new Map<string, Record>();

  constructor(opts: LoginGuardOptions = {}) {
    this.failureDelayMs = opts.failureDelayMs ?? 1000;
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.windowMs ?? 600_000;
    this.lockoutMs = opts.lockoutMs ?? 60_000;
    this.maxTracked = opts.maxTracked ?? 10_000;
  }

  /** Milliseconds this IP remains locked (0 when not locked). */
  lockedFor(ip: string, now: number = Date.now()): number {
    const rec = this.ips.get(ip);
    return rec && rec.lockedUntil > now ? rec.lockedUntil - now : 0;
  }

  /** Count a failure; returns true when this failure locked the IP. */
  recordFailure(ip: string, now: number = Date.now()): boolean {
    let rec = this.ips.get(ip);
    if (!rec) {
      if (this.ips.size >= this.maxTracked) {
        const oldest = this.ips.keys().next().value;
        if (oldest !== undefined) this.ips.delete(oldest);
      }
      rec = { failures: [], lockedUntil: 0 };
      this.ips.set(ip, rec);
    }
    rec.failures = rec.failures.filter((t) => now - t < this.windowMs);
    rec.failures.push(now);
    if (this.maxFailures > 0 && rec.failures.length >= this.maxFailures) {
      rec.lockedUntil = now + this.lockoutMs;
      rec.failures = [];
      return true;
    }
    return false;
  }

  /** A successful login clears the IP's failure count. */
  recordSuccess(ip: string): void {
    const rec = this.ips.get(ip);
    if (rec && rec.lockedUntil <= Date.now()) this.ips.delete(ip);
  }
}
