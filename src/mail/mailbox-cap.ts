/**
 * The cap on how many mailboxes the SMTP server creates. Without `strict`, every new local part
 * makes a Maildir on its first message, so a client writing to random addresses (`x1@`, `x2@`, …)
 * made directories without end: four per mailbox, emptied by `maxMessages` but never removed, the
 * free-space reserve the only limit. Mailpit and MailHog keep one store whatever the recipients;
 * Postfix's smtp-sink keeps nothing. Here a mailbox that exists always receives, and one that would
 * be created past the cap is refused at RCPT with a temporary `452 4.3.1` (RFC 3463: mail system
 * full), as the free-space reserve refuses: the sender keeps the message, and a mailbox the operator
 * removes frees its place.
 *
 * The names known are read from `mail/` once, then kept (at most `max` of them). A name admitted is
 * counted from RCPT on, so parallel transactions cannot overshoot; one whose transaction never
 * delivers, or a mailbox removed by hand, is forgotten at the next count from the disk, which a
 * refusal makes at most once a second.
 */
import { listMailboxes } from './maildir.js';

/** How often a refusal may count the mailboxes on disk again. */
const RECOUNT_MS = 1000;

export class MailboxCap {
  private known: Promise<Set<string>> | undefined;
  private countedAt = 0;

  /** `max`: mailboxes at most (0 = no cap). */
  constructor(
    private readonly dataDir: string,
    readonly max: number,
  ) {}

  private count(): Promise<Set<string>> {
    this.countedAt = Date.now();
    const counting = listMailboxes(this.dataDir).then((names) => new Set(names));
    // a failed count is not kept: the next RCPT tries again
    counting.catch(() => {
      if (this.known === counting) this.known = undefined;
    });
    this.known = counting;
    return counting;
  }

  /** May `mailbox` receive: it exists (or was admitted), or creating it stays within the cap. */
  async admits(mailbox: string): Promise<boolean> {
    if (!(this.max > 0)) return true;
    let known = await (this.known ?? this.count());
    if (known.has(mailbox)) return true;
    if (known.size >= this.max && Date.now() - this.countedAt >= RECOUNT_MS) known = await this.count();
    if (known.has(mailbox)) return true;
    if (known.size >= this.max) return false;
    known.add(mailbox);
    return true;
  }
}
