/**
 * `pop3 fetch` as a library function: download all (or only new-by-UIDL) messages from a logged-in
 * {@link Pop3Client} into a local Maildir or `.eml` files, optionally marking them for deletion.
 *
 * Safety rule: a message is marked with DELE only after it is verifiably on disk — the RETR size
 * equals the server's LIST size (RFC 1939 octet count; see {@link sizeMatchesListing} for the one
 * Dovecot quirk allowed), the file was fsynced, and its size on disk equals what was received. Deletion happens at the caller's QUIT (the RFC's UPDATE state), so a
 * crash before QUIT deletes nothing. New-by-UIDL state lives in `DIR/.netkit-pop3-state.json`, keyed
 * by account, written atomically after every saved message.
 *
 * A run that dies after a verified save but before QUIT leaves that message on the server while
 * the state remembers it, so `--new-only` skips it. With `delete` and `newOnly`, such a remembered
 * message is deleted by a later run, but only when the state recorded its verified save (file and
 * size) and that file is still there, its size unchanged and equal to the server's LIST size now.
 *
 * Memory stays bounded whatever the size of the messages: each message is streamed from the socket
 * to its file (Maildir `tmp/`, or a hidden `.part` file beside the `.eml`) with backpressure, and
 * the RETRs in flight are bounded by count and by their LIST sizes (`windowBytes`). Only the
 * summary needs a message whole (postal-mime parses it in memory): a message up to
 * `summaryMaxBytes` is kept for it as it passes; of a larger one only the header is parsed.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, link, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/datadir.js';
import { fsyncDir } from '../core/dir-sync.js';
import { NetkitError } from '../core/errors.js';
import { Maildir } from './maildir.js';
import { type MessageView, parseMessage, safeFilename } from './message-view.js';
import type { Pop3Client, Pop3ListEntry, Pop3UidlEntry } from './pop3-client.js';

export const FETCH_STATE_FILE = '.netkit-pop3-state.json';

export interface FetchOptions {
  /** destination directory (created when missing) */
  out: string;
  /** `maildir`: DIR becomes a Maildir (tmp/new/cur); `eml` (default): one `.eml` file per message */
  format?: 'maildir' | 'eml';
  /** only messages whose UIDL is not in the state file */
  newOnly?: boolean;
  /** DELE each message after a verified save (applied by the server at QUIT) */
  delete?: boolean;
  /** key for the state file, e.g. `bob@127.0.0.1:1110` */
  account?: string;
  /** RETRs in flight at once when the server supports PIPELINING (default 32) */
  window?: number;
  /** …and only as many as fit in this many octets by their LIST sizes (default 16 MiB; always one) */
  windowBytes?: number;
  /**
   * largest message parsed whole for the summary (attachments), default 16 MiB; of a larger one only
   * the header is read (From, Subject, Date) and `headerOnly` is set
   */
  summaryMaxBytes?: number;
  /**
   * how far past its LIST size a message may run: a server may send up to twice the listed size plus
   * this many octets (default {@link DEFAULT_MAX_EXCESS_BYTES}, 1 MiB) before the fetch gives up on
   * it with NETKIT_TOO_LARGE and closes the connection. Such a message could never be verified; the
   * limit keeps a server that sends one without end from filling the disk.
   */
  maxExcessBytes?: number;
  /** called after each message is saved */
  onMessage?: (m: FetchedMessage) => void;
}

/** The default of {@link FetchOptions.maxExcessBytes}. */
export const DEFAULT_MAX_EXCESS_BYTES = 1024 * 1024;

export interface FetchedMessage {
  n: number;
  uid?: string;
  size: number;
  /** where it was saved */
  file: string;
  from?: string;
  subject?: string;
  date?: string;
  attachments: Array<{ filename: string | null; mimeType: string; size: number }>;
  /** size and fsync checks passed */
  verified: boolean;
  /** marked for deletion (takes effect at QUIT) */
  deleted: boolean;
  /** why it was not verified */
  warning?: string;
  /**
   * the message was larger than `summaryMaxBytes`: From, Subject and Date come from its header
   * alone, and `attachments` is empty because the body was not parsed
   */
  headerOnly?: true;
}

/** A message fetched and verified by an earlier run but still on the server (`newOnly` + `delete`). */
export interface EarlierMessage {
  n: number;
  uid: string;
  /** the copy saved then, when the state file recorded one */
  file?: string;
  /** marked for deletion now (takes effect at QUIT) */
  deleted: boolean;
  /** why it stays on the server */
  warning?: string;
}

export interface FetchResult {
  /** messages in the mailbox */
  total: number;
  /** messages skipped as already fetched */
  skipped: number;
  messages: FetchedMessage[];
  /** with `newOnly` and `delete`: skipped messages saved by an earlier run whose DELE never took effect */
  earlier: EarlierMessage[];
}

/** A verified save: the file (relative to the output directory) and its size. */
interface SavedCopy {
  format: 'eml' | 'maildir';
  file: string;
  size: number;
}

interface StateFile {
  version: 1;
  accounts: Record<string, { uids: string[]; saved?: Record<string, SavedCopy> }>;
}

async function readState(file: string): Promise<StateFile> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as StateFile;
    if (parsed && parsed.version === 1 && typeof parsed.accounts === 'object') return parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
  return { version: 1, accounts: {} };
}

/** The saved copies of an account's state entry; anything malformed is left out (and never deleted). */
function savedCopies(entry: { saved?: unknown } | undefined): Map<string, SavedCopy> {
  const out = new Map<string, SavedCopy>();
  const saved = entry?.saved;
  if (!saved || typeof saved !== 'object' || Array.isArray(saved)) return out;
  for (const [uid, c] of Object.entries(saved as Record<string, unknown>)) {
    const copy = c as Partial<SavedCopy> | null;
    if (
      copy &&
      (copy.format === 'eml' || copy.format === 'maildir') &&
      typeof copy.file === 'string' &&
      Number.isSafeInteger(copy.size)
    )
      out.set(uid, copy as SavedCopy);
  }
  return out;
}

/**
 * Is the copy an earlier run saved still there, unchanged, and the message the server lists now?
 * Undefined when yes, else why not. The path comes from a file anyone may edit: only a plain name
 * inside `out` (or a Maildir id) is looked at.
 */
async function earlierCopyProblem(
  out: string,
  copy: SavedCopy,
  listed: number,
): Promise<{ file?: string; problem?: string }> {
  let file: string | undefined;
  if (copy.format === 'maildir') {
    file = (await new Maildir(out).find(path.basename(copy.file)))?.file;
  } else if (!copy.file.includes('/') && !copy.file.includes('\\') && !copy.file.startsWith('.')) {
    file = path.join(out, copy.file);
  }
  if (file === undefined) return { problem: `its saved copy ${copy.file} is gone` };
  let size: number;
  let tail: Buffer;
  try {
    ({ size, tail } = await fileTail(file));
  } catch {
    return { file, problem: `its saved copy ${file} is gone` };
  }
  if (size !== copy.size)
    return { file, problem: `its saved copy ${file} is ${size} octets, not the ${copy.size} saved` };
  if (!sizeAndTailMatchListing(listed, size, tail))
    return { file, problem: `the server lists ${listed} octets, its saved copy ${file} has ${size}` };
  return { file };
}

/** A file's size and its last (up to) four octets, without reading the rest. */
async function fileTail(file: string): Promise<{ size: number; tail: Buffer }> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const tail = Buffer.alloc(Math.min(4, size));
    if (tail.length > 0) await fh.read(tail, 0, tail.length, size - tail.length);
    return { size, tail };
  } finally {
    await fh.close();
  }
}

const COMPARE_BLOCK = 64 * 1024;

/**
 * True when files `a` and `b` hold the same bytes (`a`: a message saved by an earlier run), read a
 * block at a time.
 */
async function sameContent(a: string, b: string): Promise<boolean> {
  const handles: FileHandle[] = [];
  try {
    handles.push(await open(a, 'r'));
    handles.push(await open(b, 'r'));
    const [fa, fb] = handles as [FileHandle, FileHandle];
    const [sa, sb] = await Promise.all([fa.stat(), fb.stat()]);
    if (sa.size !== sb.size) return false;
    const ba = Buffer.alloc(Math.min(COMPARE_BLOCK, sa.size));
    const bb = Buffer.alloc(ba.length);
    for (let pos = 0; pos < sa.size; ) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, pos), fb.read(bb, 0, bb.length, pos)]);
      const n = ra.bytesRead;
      if (n === 0 || rb.bytesRead !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
      pos += n;
    }
    return true;
  } catch {
    return false;
  } finally {
    for (const fh of handles) await fh.close().catch(() => {});
  }
}

/**
 * A message fetched again (by a fetch without `--new-only`) into a Maildir that still holds the copy
 * an earlier run saved of it, byte for byte: that copy stays — in `cur/` with its flags if a mail
 * reader moved it there — and the new delivery goes, as an `.eml` re-fetch reuses its file rather
 * than leaving a duplicate. Returns the message's Maildir id and file.
 */
async function keepEarlierMaildirCopy(
  maildir: Maildir,
  copy: SavedCopy | undefined,
  delivered: { id: string; file: string },
): Promise<{ id: string; file: string }> {
  if (copy?.format !== 'maildir') return delivered;
  const earlier = await maildir.find(path.basename(copy.file));
  if (!earlier || earlier.id === delivered.id || !(await sameContent(earlier.file, delivered.file)))
    return delivered;
  await maildir.remove(delivered.id);
  return { id: earlier.id, file: earlier.file };
}

/** Write everything `source` yields to the open file (a short write is continued, not lost). */
async function writeAllTo(fh: FileHandle, source: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off)).bytesWritten;
  }
}

/**
 * Durably write the message `source` streams as DIR/NAME.eml (or NAME-2.eml…), never replacing a
 * file: it goes to a hidden `.NAME.….part` file first, fsynced, then gets its name with `link()`,
 * which fails rather than replace. When a name is taken by the very same bytes, that file is the
 * message already saved — by a run that crashed before it could record the UIDL in the state file,
 * or a fetch without `--new-only` — and it is reused instead of leaving a duplicate `NAME-2.eml`.
 * A failure (the connection, the disk) leaves nothing behind.
 */
async function writeEml(dir: string, base: string, source: AsyncIterable<Buffer>): Promise<string> {
  const part = path.join(dir, `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  const fh = await open(part, 'wx', 0o600);
  try {
    try {
      await writeAllTo(fh, source);
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (let i = 1; ; i++) {
      const file = path.join(dir, i === 1 ? `${base}.eml` : `${base}-${i}.eml`);
      try {
        await link(part, file); // atomic, fails if the name exists
        await fsyncDir(dir);
        return file;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await sameContent(file, part)) return file;
      }
    }
  } finally {
    await unlink(part).catch(() => {});
  }
}

const CR = 13;
const LF = 10;

/**
 * Does a retrieved message have the size the server listed? Exactly, or with one exception:
 * Dovecot ends a message whose last line has no line end with a CRLF on RETR but does not count
 * that CRLF in LIST. So `listed + 2` octets are accepted when they end in CRLF and the listed
 * octets do not (a message that ended without a line end). Any other difference — a missing
 * byte-stuffed dot, a truncated or padded message — is still a mismatch.
 */
export function sizeMatchesListing(listed: number, data: Buffer): boolean {
  return sizeAndTailMatchListing(listed, data.length, data.subarray(Math.max(0, data.length - 4)));
}

/** {@link sizeMatchesListing} for a message seen as it streamed by: its size and last four octets. */
function sizeAndTailMatchListing(listed: number, size: number, tail: Buffer): boolean {
  if (size === listed) return true;
  if (size !== listed + 2 || tail.length < 2) return false;
  const t = tail.length;
  const endsInCrlf = tail[t - 2] === CR && tail[t - 1] === LF;
  // the listed octets are all but the last two: did they end in CRLF themselves?
  const listedEndedInCrlf = listed >= 2 && t >= 4 && tail[t - 4] === CR && tail[t - 3] === LF;
  return endsInCrlf && !listedEndedInCrlf;
}

/** Of a message too large to parse whole, this much of its start is kept for its header. */
const HEAD_BYTES = 64 * 1024;
/** The default of {@link FetchOptions.summaryMaxBytes} (`pop3 fetch --max-parse-size`). */
export const DEFAULT_SUMMARY_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Watches a message on its way from the socket to disk: counts its octets, keeps its last four
 * (for the size check) and, for the summary, the message itself while it is at most `keepBytes`,
 * else only its first {@link HEAD_BYTES}.
 */
class MessageTap {
  bytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private kept: Buffer[] | undefined = [];
  private head: Buffer[] = [];
  private headBytes = 0;

  constructor(private readonly keepBytes: number) {}

  async *through(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.see(chunk);
      yield chunk;
    }
  }

  private see(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.tail =
      chunk.length >= 4 ? chunk.subarray(chunk.length - 4) : Buffer.concat([this.tail, chunk]).subarray(-4);
    if (this.headBytes < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.headBytes);
      this.head.push(part);
      this.headBytes += part.length;
    }
    if (this.kept) {
      if (this.bytes <= this.keepBytes) this.kept.push(chunk);
      else this.kept = undefined;
    }
  }

  matchesListing(listed: number): boolean {
    return sizeAndTailMatchListing(listed, this.bytes, this.tail);
  }

  /** The parsed message, or (too large) its parsed header; `headerOnly` says which. */
  async summary(): Promise<{ view: MessageView; headerOnly: boolean }> {
    if (this.kept)
      return { view: await parseMessage(Buffer.concat(this.kept, this.bytes)), headerOnly: false };
    return { view: await parseMessage(headerSection(Buffer.concat(this.head))), headerOnly: true };
  }
}

/** The header section at the start of `head` (up to and with its empty line), or its complete lines. */
function headerSection(head: Buffer): Buffer {
  if (head[0] === LF || (head[0] === CR && head[1] === LF)) return Buffer.alloc(0); // no header at all
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return head.subarray(0, crlf + 4);
  if (lf !== -1) return head.subarray(0, lf + 2);
  // a header longer than what was kept: its complete lines, then an end
  return Buffer.concat([head.subarray(0, head.lastIndexOf('\n') + 1), Buffer.from('\r\n')]);
}

/**
 * Fetch messages from a logged-in client. Does not QUIT: call `client.quit()` afterwards to end the
 * session (and to make the deletions happen).
 */
export async function fetchMessages(client: Pop3Client, opts: FetchOptions): Promise<FetchResult> {
  const format = opts.format ?? 'eml';
  await ensureDir(opts.out);
  const stateFile = path.join(opts.out, FETCH_STATE_FILE);
  const account = opts.account ?? `${client.host}:${client.port}`;
  const listing: Pop3ListEntry[] = await client.list();
  let uids: Pop3UidlEntry[] | undefined;
  try {
    uids = await client.uidl();
  } catch (err) {
    if (opts.newOnly)
      throw new NetkitError(
        'NETKIT_PROTOCOL',
        `--new-only needs UIDL, which the server refused: ${(err as Error).message}`,
      );
  }
  const uidOf = new Map((uids ?? []).map((u) => [u.n, u.uid]));
  const state = await readState(stateFile);
  const known = new Set(state.accounts[account]?.uids ?? []);
  const onServer = new Set(uidOf.values());
  // forget UIDs no longer on the server, keep the rest
  const remembered = new Set([...known].filter((u) => onServer.has(u)));
  const saved = savedCopies(state.accounts[account]);
  for (const uid of saved.keys()) if (!remembered.has(uid)) saved.delete(uid);
  const wanted = listing.filter((m) => !(opts.newOnly && known.has(uidOf.get(m.n) ?? '')));
  const sizeOf = new Map(listing.map((m) => [m.n, m.size]));
  const maildir = format === 'maildir' ? new Maildir(opts.out) : undefined;
  const messages: FetchedMessage[] = [];
  const deletions: Array<Promise<unknown>> = [];

  const saveState = async () => {
    const entry: StateFile['accounts'][string] = { uids: [...remembered] };
    if (saved.size > 0) entry.saved = Object.fromEntries(saved);
    state.accounts[account] = entry;
    await writeFileAtomic(stateFile, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  };

  const excess = opts.maxExcessBytes ?? DEFAULT_MAX_EXCESS_BYTES;
  const maxBytes = (listed: number) => 2 * listed + excess;
  await client.retrEachStream(
    wanted,
    async (n, body) => {
      const uid = uidOf.get(n);
      const expected = sizeOf.get(n)!;
      const tap = new MessageTap(opts.summaryMaxBytes ?? DEFAULT_SUMMARY_MAX_BYTES);
      let file: string;
      let maildirId: string | undefined;
      try {
        if (maildir) {
          const id = await maildir.deliver(tap.through(body)); // tmp → fsync → new → fsync dir
          const delivered = { id, file: path.join(maildir.dir, 'new', id) };
          // not with --delete: a mail reader could remove the earlier copy between the comparison
          // and the removal of this one, and the server's copy would then be deleted as well
          const earlier = uid === undefined || opts.delete ? undefined : saved.get(uid);
          ({ id: maildirId, file } = await keepEarlierMaildirCopy(maildir, earlier, delivered));
        } else {
          const base = safeFilename(uid ?? undefined, `message-${n}`);
          file = await writeEml(opts.out, base, tap.through(body));
        }
      } catch (err) {
        if (err instanceof NetkitError && err.code === 'NETKIT_TOO_LARGE')
          throw new NetkitError(
            'NETKIT_TOO_LARGE',
            `message ${n} is listed at ${expected} octets, but the server sent more than ${maxBytes(expected)}: gave up on it (a broken server?)`,
            { cause: err },
          );
        throw err;
      }
      const received = tap.bytes;
      const onDisk = (await stat(file)).size;
      let warning: string | undefined;
      if (!tap.matchesListing(expected))
        warning = `size mismatch: server listed ${expected} octets, received ${received}`;
      else if (onDisk !== received) warning = `size on disk ${onDisk} differs from ${received} received`;
      const { view, headerOnly } = await tap.summary();
      const rec: FetchedMessage = {
        n,
        size: received,
        file,
        attachments: view.attachments.map((a) => ({
          filename: a.filename,
          mimeType: a.mimeType,
          size: a.size,
        })),
        verified: warning === undefined,
        deleted: false,
      };
      if (uid !== undefined) rec.uid = uid;
      if (view.from !== undefined) rec.from = view.from;
      if (view.subject !== undefined) rec.subject = view.subject;
      if (view.date !== undefined) rec.date = view.date;
      if (warning) rec.warning = warning;
      if (headerOnly) rec.headerOnly = true;
      if (uid !== undefined) {
        remembered.add(uid);
        if (rec.verified) {
          const rel = maildirId !== undefined ? path.join('new', maildirId) : path.basename(file);
          saved.set(uid, { format: maildir ? 'maildir' : 'eml', file: rel, size: received });
        } else saved.delete(uid);
        await saveState();
      }
      if (opts.delete && rec.verified) {
        rec.deleted = true;
        const p = client.dele(n);
        p.catch(() => {});
        deletions.push(p);
      }
      messages.push(rec);
      opts.onMessage?.(rec);
    },
    { window: opts.window, windowBytes: opts.windowBytes, maxBytes },
  );
  // Remembered messages still on the server: an earlier run saved them but its DELE never took
  // effect (it died before QUIT). Deleted only against a verified copy that is still on disk.
  const earlier: EarlierMessage[] = [];
  if (opts.delete && opts.newOnly) {
    for (const m of listing) {
      const uid = uidOf.get(m.n);
      if (uid === undefined || !known.has(uid)) continue;
      const copy = saved.get(uid);
      const e: EarlierMessage = { n: m.n, uid, deleted: false };
      const check = copy
        ? await earlierCopyProblem(opts.out, copy, m.size)
        : { problem: 'no verified copy is recorded for it' };
      if (check.file !== undefined) e.file = check.file;
      if (check.problem !== undefined) e.warning = check.problem;
      else {
        e.deleted = true;
        const p = client.dele(m.n);
        p.catch(() => {});
        deletions.push(p);
      }
      earlier.push(e);
    }
  }
  await Promise.all(deletions);
  if (uids !== undefined) await saveState();
  return { total: listing.length, skipped: listing.length - wanted.length, messages, earlier };
}
