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
 */
import { link, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/datadir.js';
import { fsyncDir } from '../core/dir-sync.js';
import { NetkitError } from '../core/errors.js';
import { Maildir } from './maildir.js';
import { parseMessage, safeFilename } from './message-view.js';
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
  /** called after each message is saved */
  onMessage?: (m: FetchedMessage) => void;
}

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
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    return { file, problem: `its saved copy ${file} is gone` };
  }
  if (data.length !== copy.size)
    return { file, problem: `its saved copy ${file} is ${data.length} octets, not the ${copy.size} saved` };
  if (!sizeMatchesListing(listed, data))
    return { file, problem: `the server lists ${listed} octets, its saved copy ${file} has ${data.length}` };
  return { file };
}

/** True when `file` already holds exactly `data` (a message saved by an earlier run). */
async function sameContent(file: string, data: Buffer): Promise<boolean> {
  try {
    if ((await stat(file)).size !== data.length) return false;
    return (await readFile(file)).equals(data);
  } catch {
    return false;
  }
}

/**
 * Durably write `data` as DIR/NAME.eml (or NAME-2.eml…), never replacing a file. When a name is taken
 * by the very same bytes, that file is the message already saved — by a run that crashed before it
 * could record the UIDL in the state file, or a fetch without `--new-only` — and it is reused
 * instead of leaving a duplicate `NAME-2.eml`.
 */
async function writeEml(dir: string, base: string, data: Buffer): Promise<string> {
  const tmp = path.join(dir, `.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    for (let i = 1; ; i++) {
      const file = path.join(dir, i === 1 ? `${base}.eml` : `${base}-${i}.eml`);
      try {
        await link(tmp, file); // atomic, fails if the name exists
        await fsyncDir(dir);
        return file;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await sameContent(file, data)) return file;
      }
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

const CRLF = Buffer.from('\r\n');

/**
 * Does a retrieved message have the size the server listed? Exactly, or with one exception:
 * Dovecot ends a message whose last line has no line end with a CRLF on RETR but does not count
 * that CRLF in LIST. So `listed + 2` octets are accepted when they end in CRLF and the listed
 * octets do not (a message that ended without a line end). Any other difference — a missing
 * byte-stuffed dot, a truncated or padded message — is still a mismatch.
 */
export function sizeMatchesListing(listed: number, data: Buffer): boolean {
  if (data.length === listed) return true;
  return (
    data.length === listed + 2 &&
    data.subarray(listed).equals(CRLF) &&
    !(listed >= 2 && data.subarray(listed - 2, listed).equals(CRLF))
  );
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

  await client.retrEach(
    wanted.map((m) => m.n),
    async (n, data) => {
      const uid = uidOf.get(n);
      let file: string;
      if (maildir) {
        const id = await maildir.deliver(data); // tmp → fsync → new → fsync dir
        file = path.join(maildir.dir, 'new', id);
      } else {
        const base = safeFilename(uid ?? undefined, `message-${n}`);
        file = await writeEml(opts.out, base, data);
      }
      const expected = sizeOf.get(n)!;
      const onDisk = (await stat(file)).size;
      let warning: string | undefined;
      if (!sizeMatchesListing(expected, data))
        warning = `size mismatch: server listed ${expected} octets, received ${data.length}`;
      else if (onDisk !== data.length)
        warning = `size on disk ${onDisk} differs from ${data.length} received`;
      const view = await parseMessage(data);
      const rec: FetchedMessage = {
        n,
        size: data.length,
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
      if (uid !== undefined) {
        remembered.add(uid);
        if (rec.verified) {
          const rel = maildir ? path.join('new', path.basename(file)) : path.basename(file);
          saved.set(uid, { format: maildir ? 'maildir' : 'eml', file: rel, size: data.length });
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
    { window: opts.window },
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
