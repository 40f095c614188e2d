/**
 * Local delivery for the SMTP server (the MDA step): the trace headers an MTA adds on final delivery
 * (`Return-Path`, `Received`), durable Maildir writes for every recipient mailbox at once, undoing
 * the copies already made when one fails (so a client that retries after a 4xx gets no duplicates),
 * and per-mailbox retention that never touches a mailbox a POP3 session has locked.
 */
import { addressLiteral } from './address-literal.js';
import { fanOut } from './fan-out.js';
import { Maildir } from './maildir.js';
import { lockMailbox } from './pop3-lock.js';
import { rfc5322Date } from './rfc5322-date.js';
import { SmtpReplyError } from './smtp-data.js';

export interface TraceHeaderInfo {
  /** envelope sender, '' for the null sender `<>` */
  from: string;
  /** envelope recipients (all of them: `for <…>` is only written when there is exactly one) */
  to: string[];
  /** what the client called itself in HELO/EHLO */
  helo: string;
  remoteAddress: string;
  /** reverse-DNS name, when looked up */
  remoteName?: string;
  /** this server's name */
  serverName: string;
  /** the `with` protocol, see {@link receivedProtocol} */
  protocol: string;
  /** TLS version and cipher, when the session is encrypted */
  tls?: { version?: string; cipher?: string };
  /** identifies this message (session id and transaction number), for matching it to server traces */
  id: string;
  date?: Date;
}

const UNSAFE_IN_HEADER = /[^\x21-\x7e]|[()\\;<>]/;

/** Printable ASCII without the characters that would break a `Received:` comment or clause. */
function headerSafe(text: string, max = 200): string {
  // the usual case (an IP literal, a host name) needs no copy
  if (text.length > 0 && text.length <= max && !UNSAFE_IN_HEADER.test(text)) return text;
  const cleaned = text.replace(/[^\x21-\x7e]|[()\\;<>]/g, '?');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned || '?';
}

/** An address for `<…>` in a header: no CR/LF, no angle brackets; UTF-8 stays (SMTPUTF8). */
function addressSafe(addr: string): string {
  return addr.replace(/[\u0000-\u001f\u007f<>]/g, '');
}

/** The current time as {@link rfc5322Date}, formatted once per second: a busy server stamps
 * thousands of messages within one. */
let stampSecond = -1;
let stampText = '';
function nowRfc5322(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    stampSecond = second;
    stampText = rfc5322Date(new Date(second * 1000));
  }
  return stampText;
}

/**
 * The `with` clause of the Received header: RFC 3848's SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, or,
 * for a transaction with the SMTPUTF8 parameter, RFC 6531's UTF8SMTP, UTF8SMTPS, UTF8SMTPA,
 * UTF8SMTPSA (SMTPUTF8 needs EHLO).
 */
export function receivedProtocol(s: {
  ehlo: boolean;
  smtpUtf8: boolean;
  secure: boolean;
  authenticated: boolean;
}): string {
  const base = s.smtpUtf8 ? 'UTF8SMTP' : s.ehlo ? 'ESMTP' : 'SMTP';
  return `${base}${s.secure ? 'S' : ''}${s.authenticated ? 'A' : ''}`;
}

/**
 * The `Received:` header of final delivery (RFC 5321 §4.4), CRLF-terminated: the same for every
 * recipient mailbox, so it travels with the shared message stream. `for <…>` only with one
 * recipient, as Postfix does (it would list the Bcc recipients to every copy).
 */
export function receivedHeader(info: TraceHeaderInfo): Buffer {
  const literal = addressLiteral(info.remoteAddress);
  const remote = info.remoteName ? `${headerSafe(info.remoteName)} ${literal}` : literal;
  const tls = info.tls?.version
    ? ` (using ${headerSafe(info.tls.version)}${info.tls.cipher ? ` with cipher ${headerSafe(info.tls.cipher)}` : ''})`
    : '';
  const forClause = info.to.length === 1 ? `\r\n\tfor <${addressSafe(info.to[0]!)}>` : '';
  return Buffer.from(
    `Received: from ${headerSafe(info.helo || 'unknown')} (${remote})\r\n` +
      `\tby ${headerSafe(info.serverName)} (netkit) with ${info.protocol} id ${headerSafe(info.id)}${tls}` +
      `${forClause};\r\n\t${info.date ? rfc5322Date(info.date) : nowRfc5322()}\r\n`,
    'utf8',
  );
}

/**
 * What one mailbox's copy starts with: `Return-Path:` (RFC 5321 §4.4, added by final delivery
 * only) and `Delivered-To:` with the envelope recipient this copy was delivered for, as Postfix's
 * local(8) and Dovecot's LDA write it — the only trace of a Bcc recipient, or of which address
 * (`bob@a` or `bob@b`) reached the mailbox; fetchmail's multidrop mode reads it.
 */
export function deliveryHeaders(from: string, recipient: string): Buffer {
  return Buffer.from(
    `Return-Path: <${addressSafe(from)}>\r\nDelivered-To: ${addressSafe(recipient)}\r\n`,
    'utf8',
  );
}

export interface StoredCopy {
  mailbox: string;
  id: string;
  /** bytes on disk, our headers included */
  size: number;
}

/** Is this a file-system failure (as opposed to the message stream failing)? */
function isStorageError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException)?.syscall === 'string';
}

interface RetentionState {
  /** upper bound of the message count (unknown until first listed) */
  count?: number;
  /** deliveries seen, to tell which ones a listing may have missed */
  arrivals: number;
  /** the run that has not started yet, which a new delivery joins */
  waiting?: Promise<number>;
  /** the last run, settled (the next one starts after it) */
  running?: Promise<number>;
  /** a run is listing or pruning the mailbox now */
  busy?: boolean;
}

/** What the store keeps of one mailbox between deliveries. */
interface MailboxState {
  maildir: Maildir;
  /** an upper bound of its message count, and the retention run queued or running */
  retention?: RetentionState;
}

/**
 * Mailboxes whose state is kept. A client writing to ever new local parts would otherwise grow the
 * map for good; past this, the state of the mailboxes delivered to longest ago goes (not while a
 * retention run has them). What a dropped one costs: its next delivery makes the Maildir again
 * (one stat) and, with `maxMessages`, lists it once to learn its count.
 */
const KEPT_MAILBOXES = 1000;

/** The Maildirs of one data directory, as the SMTP server writes them. */
export class MailStore {
  /** least recently used first */
  private readonly mailboxes = new Map<string, MailboxState>();

  constructor(
    readonly dataDir: string,
    private readonly opts: { maxMessages?: number } = {},
  ) {}

  /** The state of `mailbox`, made the most recently used; the least recent idle ones over the cap go. */
  private state(mailbox: string): MailboxState {
    const kept = this.mailboxes.get(mailbox);
    const state = kept ?? { maildir: Maildir.open(this.dataDir, mailbox) };
    this.mailboxes.delete(mailbox);
    this.mailboxes.set(mailbox, state);
    if (!kept && this.mailboxes.size > KEPT_MAILBOXES) {
      for (const [name, s] of this.mailboxes) {
        if (this.mailboxes.size <= KEPT_MAILBOXES || name === mailbox) break;
        if (s.retention?.waiting || s.retention?.busy) continue;
        this.mailboxes.delete(name);
      }
    }
    return state;
  }

  /** How many mailboxes the store keeps state for (at most about {@link KEPT_MAILBOXES}). */
  get keptMailboxes(): number {
    return this.mailboxes.size;
  }

  maildir(mailbox: string): Maildir {
    return this.state(mailbox).maildir;
  }

  /**
   * Write `message` into every mailbox (streamed to all `tmp/` files at once), each copy after its
   * own `heads[i]` when given; resolves once every copy is fsynced and renamed into `new/` (and
   * the directory fsynced). If any copy fails, the
   * others are removed again and the error is thrown: a {@link SmtpReplyError} as the stream raised
   * it (policy), a 451 for storage failures, the stream's own error when the client vanished.
   */
  async deliver(
    mailboxes: string[],
    message: AsyncIterable<Buffer>,
    heads?: readonly Buffer[],
  ): Promise<StoredCopy[]> {
    // each copy reports the size it stored, so no stat is needed afterwards
    const sizes = mailboxes.map(() => ({ bytes: 0 }));
    const readers = fanOut(message, mailboxes.length);
    const results = await Promise.allSettled(
      mailboxes.map((mb, i) => this.maildir(mb).deliver(readers[i]!, sizes[i], heads?.[i])),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(
        results.map((r, i) =>
          r.status === 'fulfilled'
            ? this.maildir(mailboxes[i]!)
                .remove(r.value)
                .catch(() => false)
            : false,
        ),
      );
      const err = failed.reason;
      if (isStorageError(err)) {
        const code = (err as NodeJS.ErrnoException).code;
        // a full disk is RFC 5321's "insufficient system storage": the client keeps it and retries
        if (code === 'ENOSPC' || code === 'EDQUOT')
          throw new SmtpReplyError(
            452,
            '4.3.1',
            'Insufficient system storage: the message could not be stored',
          );
        throw new SmtpReplyError(451, '4.3.0', 'Local error in processing: the message could not be stored');
      }
      throw err;
    }
    const copies = results.map((r, i) => ({
      mailbox: mailboxes[i]!,
      id: (r as PromiseFulfilledResult<string>).value,
      size: sizes[i]!.bytes,
    }));
    if (this.opts.maxMessages && this.opts.maxMessages > 0) {
      // the copies are durable: a retention that fails must not turn them into an error (a client
      // told 451 would send them again); the next delivery retries it
      await Promise.all(mailboxes.map((mb) => this.retain(mb).catch(() => 0)));
    }
    return copies;
  }

  /**
   * Keep at most `maxMessages` in a mailbox, oldest removed first; called after each delivery.
   * Returns how many went. Runs one at a time per mailbox, and deliveries that finish while a run
   * waits share it. The mailbox is listed only when the count kept here (an upper bound: POP3
   * deletions only lower the real one) passes the limit, and then once, under the lock: listing
   * a full mailbox after every delivery made a catcher at its cap ~100× slower.
   *
   * Pruning takes the mailbox's POP3 lock: a POP3 session holds the maildrop it listed at login
   * exclusively (RFC 1939 §8), so messages must not vanish under it. While a session holds the lock
   * the mailbox is left over the limit, and the next delivery after the session ends prunes it.
   */
  retain(mailbox: string): Promise<number> {
    const max = this.opts.maxMessages ?? 0;
    if (!(max > 0)) return Promise.resolve(0);
    const state = this.state(mailbox);
    state.retention ??= { arrivals: 0 };
    const box = state.retention;
    box.arrivals++;
    if (box.count !== undefined) box.count++;
    if (box.waiting) return box.waiting; // a run that has not started yet covers this delivery too
    const run = (box.running ?? Promise.resolve(0)).then(async () => {
      box.waiting = undefined;
      if (box.count !== undefined && box.count <= max) return 0;
      box.busy = true;
      try {
        return await this.prune(state.maildir, box, max);
      } finally {
        box.busy = false;
      }
    });
    const settled = run.catch(() => 0);
    box.waiting = run;
    box.running = settled;
    return run;
  }

  /** One retention run of {@link retain}: learn the count if unknown, prune under the lock if over. */
  private async prune(md: Maildir, box: RetentionState, max: number): Promise<number> {
    if (box.count === undefined) {
      // first delivery since start (or since the state was dropped): learn the count without the lock
      const seen = box.arrivals;
      box.count = (await md.list()).length + (box.arrivals - seen);
      if (box.count <= max) return 0;
    }
    // a lock that cannot even be attempted (e.g. a read-only directory) must not fail the delivery
    const lock = await lockMailbox(md.dir).catch(() => undefined);
    if (!lock) return 0; // a POP3 session has it: the count stays over max, so the next delivery retries
    try {
      const seen = box.arrivals;
      const listing = await md.list();
      const removed = await md.prune(max, listing);
      // deliveries since the listing may or may not be in it: counting them keeps an upper bound
      box.count = listing.length - removed + (box.arrivals - seen);
      return removed;
    } finally {
      await lock.release();
    }
  }
}
