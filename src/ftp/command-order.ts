/**
 * The order in which one FTP session runs its command lines while a transfer runs in the
 * background (RFC 959 §4.1.3 and §5.4: the server must stay ready for ABOR, and STAT may ask for
 * progress at any time).
 *
 * - No transfer and nothing held back: a line runs at once, and its promise holds back the next
 *   line ({@link LineConnection} handles one line at a time: pipelining stays bounded).
 * - A transfer runs: ABOR and STAT run at once, overtaking anything held back (pyftpdlib's order:
 *   ABOR's 426/226 come before the replies of commands sent earlier). NOOP is answered at once
 *   when nothing is held back (keep-alives), otherwise it waits its turn. Every other line is
 *   held back, and the connection keeps reading, so an ABOR sent after it is still seen.
 * - When the transfer's last reply is out, {@link CommandOrder.resume} runs the held lines in
 *   order; one of them may start the next transfer, and the rest wait for that one.
 */

/** Commands a running transfer never holds back. */
const OVERTAKING = new Set(['ABOR', 'STAT']);
/** Held-back lines beyond this stop the connection reading until some have run. */
export const MAX_HELD_LINES = 32;

export interface CommandOrderHooks {
  /** a transfer is running */
  busy(): boolean;
  /** the verb of a line (upper case; '' when none) */
  verbOf(line: string): string;
  /** run one line (never rejects) */
  run(line: string): Promise<void>;
}

export class CommandOrder {
  private held: string[] = [];
  private draining = false;
  private roomWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly hooks: CommandOrderHooks) {}

  /** Lines held back right now. */
  get pending(): number {
    return this.held.length;
  }

  /** A line from the connection. A returned promise holds back the connection's next line. */
  push(line: string): Promise<void> | undefined {
    const { busy, verbOf, run } = this.hooks;
    const queued = this.held.length > 0 || this.draining;
    if (!busy() && !queued) return run(line);
    if (busy()) {
      const verb = verbOf(line);
      if (OVERTAKING.has(verb) || (verb === 'NOOP' && !queued)) return run(line);
    }
    this.held.push(line);
    if (this.held.length < MAX_HELD_LINES) return undefined;
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** The running transfer has sent its last reply: run what was held back. */
  resume(): Promise<void> {
    return this.drain();
  }

  /** Resolves once no transfer runs and no held line is left to run. */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The session is closing: forget held lines. */
  clear(): void {
    this.held = [];
    this.wake();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private get idle(): boolean {
    return !this.hooks.busy() && !this.draining && this.held.length === 0;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.hooks.busy() && this.held.length > 0) {
        const line = this.held.shift()!;
        this.wake();
        await this.hooks.run(line);
      }
    } finally {
      this.draining = false;
    }
    if (this.hooks.busy()) this.overtake();
    else if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A held line started a new transfer: ABOR and STAT held behind it must not wait for it. */
  private overtake(): void {
    for (let i = 0; i < this.held.length; ) {
      const verb = this.hooks.verbOf(this.held[i]!);
      if (!OVERTAKING.has(verb)) {
        i += 1;
        continue;
      }
      const [line] = this.held.splice(i, 1);
      this.wake();
      void this.hooks.run(line!);
      // the transfer ends with this ABOR, which resumes the rest in order
      if (verb === 'ABOR') return;
    }
  }

  private wake(): void {
    if (this.held.length >= MAX_HELD_LINES) return;
    for (const w of this.roomWaiters.splice(0)) w();
  }
}
