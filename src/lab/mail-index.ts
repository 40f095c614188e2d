/**
 * The dashboard's view of the mail store: an in-memory index of message summaries over every
 * Maildir in the data directory, so a page of 10,000 messages or a search answers in milliseconds.
 *
 * The Maildirs stay the source of truth. A mailbox is rescanned only when the mtime of its `new/`
 * or `cur/` directory changed (cheap: two stats per mailbox per query), so deliveries by the SMTP
 * server, deletions by POP3 sessions and external tools all show up without a file watcher.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TypedEventEmitter } from '../core/events.js';
import { keepingUndecodableWords } from '../mail/encoded-words.js';
import { listMailboxes, Maildir, type MaildirEntry, mailboxDir } from '../mail/maildir.js';
import { dateHeader, fromText } from '../mail/message-view.js';
import { parseMime } from '../mail/mime-parse.js';
import { parseMailDate } from '../mail/rfc5322-date.js';
import { type MessageSummary, matches, parseSearch } from './mail-search.js';
import type { ParsedEmail } from './parsed-email.js';

export type PublicSummary = Omit<MessageSummary, 'haystack'>;

/** A summary as the API and the live events show it: without the search text. */
function publicSummary({ haystack: _h, ...shown }: MessageSummary): PublicSummary {
  return shown;
}

export interface ListOptions {
  /** only this mailbox (default: all) */
  mailbox?: string;
  /** search words and `from:`, `to:`, `subject:`, `has:attachment`, `is:unread`, `before:`… terms (mail-search.ts) */
  query?: string;
  /** page number, from 1 (default 1) */
  page?: number;
  /** messages per page, 1–500 (default 50) */
  pageSize?: number;
}

export interface ListResult {
  total: number;
  page: number;
  pageSize: number;
  unread: number;
  messages: PublicSummary[];
}

function addressText(a: { name?: string; address?: string } | undefined): string {
  if (!a) return '';
  return a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? '');
}

function flatAddresses(list: ParsedEmail['to']): string[] {
  const out: string[] = [];
  for (const a of list ?? []) {
    if ('group' in a && Array.isArray(a.group)) for (const g of a.group) out.push(addressText(g));
    else out.push(addressText(a as { name?: string; address?: string }));
  }
  return out;
}

export async function parseMessage(raw: Buffer): Promise<ParsedEmail> {
  // attachments as sent (mime-parse.ts), undecodable encoded words shown as written, as `mail show` does
  return keepingUndecodableWords(await parseMime(raw));
}

export function summarize(mailbox: string, entry: MaildirEntry, email: ParsedEmail): MessageSummary {
  // every From mailbox and the Date as `mail show` reads them (Python's rules), not postal-mime's
  const from = fromText(email) ?? '';
  const to = flatAddresses(email.to);
  const cc = flatAddresses(email.cc);
  const subject = email.subject ?? '';
  const text = (email.text ?? email.html?.replace(/<[^>]*>/g, ' ') ?? '').replace(/\s+/g, ' ').trim();
  const dateText = dateHeader(email);
  const parsedDate = dateText === undefined ? undefined : parseMailDate(dateText)?.getTime();
  return {
    mailbox,
    id: entry.id,
    from,
    to,
    cc,
    subject,
    date: parsedDate ?? entry.mtimeMs,
    received: entry.mtimeMs,
    size: entry.size,
    attachments: email.attachments.filter((a) => a.disposition !== 'inline' || !a.contentId).length,
    read: entry.flags.includes('S'),
    haystack: `${from} ${to.join(' ')} ${cc.join(' ')} ${subject} ${text.slice(0, 4096)}`.toLowerCase(),
    snippet: text.slice(0, 160),
  };
}

interface MailboxState {
  stamp: string;
  messages: Map<string, MessageSummary>;
}

/** A mailbox changed: messages arrived, were read or removed, or the mailbox went away. */
export interface MailIndexChange {
  mailbox: string;
  /** the messages that arrived, oldest first (empty for the other changes) */
  added: PublicSummary[];
}

/** What a {@link MailIndex} emits, each event with its listener's arguments. */
export interface MailIndexEvents {
  change: [change: MailIndexChange];
}

/** Summaries of every message in the data directory's Maildirs, kept up to date, for listing and search. */
export class MailIndex extends TypedEventEmitter<MailIndexEvents> {
  private readonly boxes = new Map<string, MailboxState>();
  private scanning: Promise<void> | undefined;
  /** every summary, newest first; rebuilt lazily after any change */
  private sorted: MessageSummary[] | undefined;

  constructor(readonly dataDir: string) {
    super();
  }

  private async stampOf(mailbox: string): Promise<string> {
    const dir = mailboxDir(this.dataDir, mailbox);
    const parts = await Promise.all(
      ['new', 'cur'].map((d) =>
        stat(path.join(dir, d)).then(
          (s) => String(s.mtimeMs),
          () => '-',
        ),
      ),
    );
    return parts.join('/');
  }

  /** Bring the index up to date with the disk (only changed mailboxes are rescanned). */
  refresh(): Promise<void> {
    this.scanning ??= this.doRefresh().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async doRefresh(): Promise<void> {
    const names = await listMailboxes(this.dataDir);
    for (const gone of [...this.boxes.keys()].filter((n) => !names.includes(n))) {
      this.boxes.delete(gone);
      this.changed(gone);
    }
    for (const name of names) {
      const stamp = await this.stampOf(name);
      const state = this.boxes.get(name);
      if (state && state.stamp === stamp) continue;
      await this.rescan(name, stamp);
    }
  }

  private async rescan(mailbox: string, stamp: string): Promise<void> {
    const state = this.boxes.get(mailbox) ?? { stamp, messages: new Map() };
    const entries = await Maildir.open(this.dataDir, mailbox).list();
    const seen = new Set<string>();
    let changed = false;
    const queue = entries.filter((e) => {
      seen.add(e.id);
      const known = state.messages.get(e.id);
      if (known) {
        const read = e.flags.includes('S');
        if (known.read !== read) {
          known.read = read;
          changed = true;
        }
        return false;
      }
      return true;
    });
    for (const id of [...state.messages.keys()]) {
      if (!seen.has(id)) {
        state.messages.delete(id);
        changed = true;
      }
    }
    // parse new messages a few at a time
    const added: PublicSummary[] = [];
    const workers = Array.from({ length: 8 }, async () => {
      for (let e = queue.shift(); e; e = queue.shift()) {
        try {
          const raw = await readFile(e.file).catch(() => Maildir.open(this.dataDir, mailbox).read(e.id));
          const summary = summarize(mailbox, e, await parseMessage(raw));
          state.messages.set(e.id, summary);
          added.push(publicSummary(summary));
          changed = true;
        } catch {
          // vanished meanwhile or unparsable: skip this round
        }
      }
    });
    await Promise.all(workers);
    state.stamp = stamp;
    this.boxes.set(mailbox, state);
    if (changed) this.changed(mailbox, added);
  }

  /**
   * `change` events name the mailbox and carry the summaries of the messages that arrived (what a
   * test waiting for a mail over the live API needs: id, from, to, subject…, no second request).
   */
  private changed(mailbox: string, added: PublicSummary[] = []): void {
    this.sorted = undefined;
    added.sort((a, b) => a.received - b.received || a.id.localeCompare(b.id));
    this.emit('change', { mailbox, added } satisfies MailIndexChange);
  }

  private newestFirst(): MessageSummary[] {
    if (!this.sorted) {
      const all: MessageSummary[] = [];
      for (const s of this.boxes.values()) for (const m of s.messages.values()) all.push(m);
      // arrival order, not the Date header a sender may set to anything (a mail "from 2001")
      this.sorted = all.sort((a, b) => b.received - a.received || b.id.localeCompare(a.id));
    }
    return this.sorted;
  }

  async mailboxes(): Promise<Array<{ name: string; total: number; unread: number }>> {
    await this.refresh();
    return [...this.boxes.entries()]
      .map(([name, s]) => {
        let unread = 0;
        for (const m of s.messages.values()) if (!m.read) unread++;
        return { name, total: s.messages.size, unread };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async list(opts: ListOptions = {}): Promise<ListResult> {
    await this.refresh();
    const pageSize = Math.min(Math.max(opts.pageSize ?? 50, 1), 500);
    const page = Math.max(opts.page ?? 1, 1);
    const terms = opts.query ? parseSearch(opts.query) : [];
    const all: MessageSummary[] = [];
    let unread = 0;
    for (const m of this.newestFirst()) {
      if (opts.mailbox && m.mailbox !== opts.mailbox) continue;
      if (terms.length && !matches(terms, m)) continue;
      all.push(m);
      if (!m.read) unread++;
    }
    const slice = all.slice((page - 1) * pageSize, page * pageSize).map(publicSummary);
    return { total: all.length, page, pageSize, unread, messages: slice };
  }

  summary(mailbox: string, id: string): MessageSummary | undefined {
    return this.boxes.get(mailbox)?.messages.get(id);
  }

  async raw(mailbox: string, id: string): Promise<Buffer> {
    return Maildir.open(this.dataDir, mailbox).read(id);
  }

  async parsed(mailbox: string, id: string): Promise<ParsedEmail> {
    return parseMessage(await this.raw(mailbox, id));
  }

  /** Flag a message as seen; false when there is no such message (deleted, or never was). */
  async markRead(mailbox: string, id: string): Promise<boolean> {
    const md = Maildir.open(this.dataDir, mailbox);
    if (!(await md.find(id))) return false;
    await md.setFlag(id, 'S');
    const m = this.summary(mailbox, id);
    if (m && !m.read) {
      m.read = true;
      this.changed(mailbox);
    }
    return true;
  }

  async remove(mailbox: string, id: string): Promise<boolean> {
    const ok = await Maildir.open(this.dataDir, mailbox).remove(id);
    this.boxes.get(mailbox)?.messages.delete(id);
    if (ok) this.changed(mailbox);
    return ok;
  }

  async removeAll(mailbox?: string): Promise<number> {
    await this.refresh();
    let n = 0;
    for (const [name, s] of this.boxes) {
      if (mailbox && name !== mailbox) continue;
      const md = Maildir.open(this.dataDir, name);
      for (const id of [...s.messages.keys()]) {
        if (await md.remove(id)) n++;
        s.messages.delete(id);
      }
      this.changed(name);
    }
    return n;
  }
}
