/**
 * Who a UDP classic service may answer. A UDP request's source address is whatever the sender
 * wrote into it, so every reply is potentially sent to a victim (reflection), and two services
 * answering each other loop forever (the echo ↔ chargen "ping-pong" of CVE-1999-0103: one spoofed
 * datagram from chargen's port to echo's keeps both busy until someone restarts them).
 *
 * The rules, as BSD inetd's `dg_badinput`/`check_loop` apply them to its internal services:
 * - no reply to source port 0 (not a real client) or to a privileged port (< 1024): clients send
 *   from ephemeral ports; a request "from" port 7, 13, 19, 53, 123… is a spoofed loop or reflection
 *   attempt aimed at another service;
 * - no reply to a source port that is one of our own classic services (the lab's 7007, 7019, …);
 * - at most `burst` replies per second to one source IP: a loop is one datagram bouncing as fast as
 *   the network allows, so the first dropped reply ends it, and a spoofed flood is reflected at a
 *   bounded rate instead of at line rate.
 * Replies are never larger than this: echo answers with the request itself, and chargen/qotd stay
 * within 512 bytes (RFC 864/865).
 */

export interface UdpGuardOptions {
  /** source ports that are services of ours: never answered */
  servicePorts?: Iterable<number>;
  /** replies per second (and burst) to one source IP (default 64) */
  perIpRate?: number;
  /** the clock in ms (tests) */
  now?: () => number;
}

/** Source IPs tracked at once; past this the table is cleared rather than grown (a spoofed flood). */
const MAX_TRACKED = 10_000;

/** Why a reply was refused, in the words `--trace` shows (`no reply to HOST:PORT: …`). */
export function refusalWords(refused: 'port' | 'rate', port: number): string {
  if (refused === 'rate') return 'over the per-IP reply rate';
  return port < 1024 ? 'source port below 1024' : 'source port is a service port';
}

export class UdpReplyGuard {
  private readonly servicePorts: Set<number>;
  private readonly rate: number;
  private readonly now: () => number;
  /** per source IP: tokens left and when they were last topped up */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** datagrams not answered, by reason (for traces and tests) */
  readonly dropped = { port: 0, rate: 0 };

  constructor(options: UdpGuardOptions = {}) {
    this.servicePorts = new Set(options.servicePorts ?? []);
    this.rate = options.perIpRate ?? 64;
    this.now = options.now ?? Date.now;
  }

  /** Why a reply to `host:port` must not be sent, or undefined when it may. */
  refuse(host: string, port: number): 'port' | 'rate' | undefined {
    if (port < 1024 || this.servicePorts.has(port)) {
      this.dropped.port += 1;
      return 'port';
    }
    const t = this.now();
    let b = this.buckets.get(host);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.buckets.clear();
      b = { tokens: this.rate, at: t };
      this.buckets.set(host, b);
    }
    b.tokens = Math.min(this.rate, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    if (b.tokens < 1) {
      this.dropped.rate += 1;
      return 'rate';
    }
    b.tokens -= 1;
    return undefined;
  }
}
