/**
 * Maildir storage (the qmail layout: `tmp/`, `new/`, `cur/`) under `DATA/mail/MAILBOX/`.
 *
 * Delivery is durable: the message is written to `tmp/`, fsynced, renamed into `new/`, and the
 * directory is fsynced, so a message that was acknowledged survives a crash and a reader never sees
 * half of one. Every step is a round trip through libuv's thread pool, a large part of the SMTP
 * server's work per message, so {@link Maildir.deliver} keeps them few and cheap: plain file
 * descriptors instead of `FileHandle` objects, and a message of up to {@link SINGLE_WRITE_BYTES} is
 * written with one `writev` on a file opened `O_SYNC` (the write returns only once data and inode
 * are on disk, as write + fsync would, in one round trip instead of two).
 *
 * Unique names follow the Maildir convention `TIME.M<usec>P<pid>Q<n>.HOST` and stay stable when a
 * message moves to `cur/` (flags are appended after `:2,`), so they double as POP3 UIDs.
 */
import { randomFillSync } from 'node:crypto';
import { close, constants, fsync, open as openFd, writev } from 'node:fs';
import { readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDir } from '../core/datadir.js';
import { DirectorySync, fsyncDir } from '../core/dir-sync.js';
import { NetkitError } from '../core/errors.js';
import { forgetFile, listMaildir, splitMaildirName } from './maildir-listing.js';

export interface MaildirEntry {
  /** the unique name without flags: stable across sessions, used as the POP3 UID */
  id: string;
  /** absolute path of the file now */
  file: string;
  folder: 'new' | 'cur';
  /** Maildir info flags, e.g. "S" for seen */
  flags: string;
  size: number;
  mtimeMs: number;
}

const MAILBOX_RE = /^[a-z0-9][a-z0-9._+-]{0,63}$/i;
let sequence = 0;
const HOST = os.hostname().replace(/[/:]/g, '_');

/** Mailbox names come from mail addresses: validate before they become a directory. */
export function normaliseMailbox(name: string): string {
  const lower = name.toLowerCase();
  if (!MAILBOX_RE.test(lower) || lower.includes('..')) {
    throw new NetkitError('NETKIT_INVALID_INPUT', `invalid mailbox name "${name}"`);
  }
  return lower;
}

export function mailRoot(dataDir: string): string {
  return path.join(dataDir, 'mail');
}

export function mailboxDir(dataDir: string, mailbox: string): string {
  return path.join(mailRoot(dataDir), normaliseMailbox(mailbox));
}

/** The names of the mailboxes under `DATA/mail/`. */
export async function listMailboxes(dataDir: string): Promise<string[]> {
  try {
    const entries = await readdir(mailRoot(dataDir), { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && MAILBOX_RE.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Random bytes for unique names, drawn 4 KiB at a time: a `randomBytes(4)` call per message cost
 * more than building the rest of the name. */
const randomPool = Buffer.alloc(4096);
let randomAt = randomPool.length;

function randomHex4(): string {
  if (randomAt + 4 > randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  randomAt += 4;
  return randomPool.toString('hex', randomAt - 4, randomAt);
}

let lastUs = 0;

/**
 * `SECONDS.M<microseconds>P<pid>Q<sequence>R<random>.HOST`. The time is the wall clock to the
 * microsecond and strictly increasing within the process, so the names sort in delivery order,
 * which is how Dovecot numbers messages (maildir-order.ts).
 */
function uniqueName(): string {
  lastUs = Math.max(lastUs + 1, Math.floor((performance.timeOrigin + performance.now()) * 1000));
  sequence = (sequence + 1) % 1e9;
  const usec = String(lastUs % 1_000_000).padStart(6, '0');
  return `${Math.floor(lastUs / 1_000_000)}.M${usec}P${process.pid}Q${sequence}R${randomHex4()}.${HOST}`;
}

/** A message up to this size is gathered in memory and written with one synchronous `writev`. */
export const SINGLE_WRITE_BYTES = 256 * 1024;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
/** O_SYNC (not O_DSYNC): the write completes with the file's data and metadata on disk, like fsync. */
const CREATE_SYNC = CREATE | constants.O_SYNC;

// The callback API, promisified by hand: no FileHandle object, its close bookkeeping and its
// extra promise layers per call (measurable at thousands of messages per second).
function openFile(file: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => {
    openFd(file, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function closeFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    close(fd, (err) => (err ? reject(err) : resolve()));
  });
}

function syncFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsync(fd, (err) => (err ? reject(err) : resolve()));
  });
}

/** Write all of `buffers` at the file position (libuv retries short writes itself). */
function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let total = 0;
  for (const b of buffers) total += b.length;
  return new Promise((resolve, reject) => {
    writev(fd, buffers, (err, written) => {
      if (err) reject(err);
      else if (written !== total)
        reject(
          Object.assign(new Error(`short write: ${written} of ${total} bytes`), {
            code: 'EIO',
            syscall: 'write',
          }),
        );
      else resolve();
    });
  });
}

/** One mailbox's Maildir: durable delivery, listing and reading of its messages (see the module comment). */
export class Maildir {
  private ready: Promise<void> | undefined;
  /** concurrent deliveries share one fsync of new/ */
  private readonly newDir: DirectorySync;

  constructor(readonly dir: string) {
    this.newDir = new DirectorySync(path.join(dir, 'new'));
  }

  static open(dataDir: string, mailbox: string): Maildir {
    return new Maildir(mailboxDir(dataDir, mailbox));
  }

  /**
   * Create tmp/new/cur when missing, once per instance. The new directories' names are made
   * durable too (fsync of the mailbox, of `mail/` and of the data directory): the fsync of `new/`
   * after a delivery covers the message's name, not the name of a mailbox created for it.
   */
  ensure(): Promise<void> {
    this.ready ??= (async () => {
      const fresh = await stat(path.join(this.dir, 'new')).then(
        () => false,
        () => true,
      );
      await Promise.all(['tmp', 'new', 'cur'].map((d) => ensureDir(path.join(this.dir, d), 0o700)));
      if (!fresh) return;
      const parent = path.dirname(this.dir);
      await fsyncDir(this.dir);
      // the parents may have existed (and be unreadable to us): best effort
      await Promise.all([parent, path.dirname(parent)].map((d) => fsyncDir(d).catch(() => {})));
    })();
    return this.ready;
  }

  /**
   * Durably store one message; resolves with its unique id only once it is on disk (its bytes and
   * its name in new/). `chunks` may be a Buffer or an (async) iterable of Buffers: up to
   * {@link SINGLE_WRITE_BYTES} are gathered and written at once, a larger message is streamed in
   * writes of about that size (never held whole) and fsynced. `written.bytes` is set to the size
   * stored, `head` (this copy's own trace headers) included, which goes in front of `chunks` in the
   * same write. A failure leaves nothing behind: the file in tmp/ is removed, new/ never sees it.
   */
  async deliver(
    chunks: Buffer | AsyncIterable<Buffer> | Iterable<Buffer>,
    written?: { bytes: number },
    head?: Buffer,
  ): Promise<string> {
    await this.ensure();
    const name = uniqueName();
    const tmp = path.join(this.dir, 'tmp', name);
    let fd: number | undefined;
    let created = false;
    let bytes = 0;
    try {
      let held: Buffer[] = head ? [head] : [];
      let heldBytes = head ? head.length : 0;
      if (Buffer.isBuffer(chunks)) {
        held.push(chunks);
        heldBytes += chunks.length;
      } else {
        for await (const chunk of chunks) {
          held.push(chunk);
          heldBytes += chunk.length;
          if (heldBytes >= SINGLE_WRITE_BYTES) {
            if (fd === undefined) {
              fd = await openFile(tmp, CREATE);
              created = true;
            }
            await writeAll(fd, held);
            bytes += heldBytes;
            held = [];
            heldBytes = 0;
          }
        }
      }
      if (fd === undefined && heldBytes > 0) {
        // the whole message is here: one synchronous write, no separate fsync
        fd = await openFile(tmp, CREATE_SYNC);
        created = true;
        await writeAll(fd, held);
      } else if (fd === undefined) {
        // nothing to write (an empty message): the new inode itself still has to reach the disk
        fd = await openFile(tmp, CREATE);
        created = true;
        await syncFile(fd);
      } else {
        if (heldBytes > 0) await writeAll(fd, held);
        await syncFile(fd);
      }
      bytes += heldBytes;
      const open = fd;
      fd = undefined;
      await closeFile(open);
      await rename(tmp, path.join(this.dir, 'new', name));
    } catch (err) {
      if (fd !== undefined) await closeFile(fd).catch(() => {});
      if (created) await unlink(tmp).catch(() => {});
      throw err;
    }
    await this.newDir.sync();
    if (written) written.bytes = bytes;
    return name;
  }

  /**
   * Every message in new/ and cur/, oldest first (by delivery time, then name). File sizes and
   * times come from maildir-listing.ts's cache, so a repeat listing of a big mailbox (retention
   * after each delivery, the lab's index) costs a readdir per folder, not a stat per message.
   */
  async list(): Promise<MaildirEntry[]> {
    await this.ensure();
    return listMaildir(this.dir);
  }

  /**
   * One message by id, without listing the whole Maildir (new/ is one stat, cur/ one readdir).
   * new/ is checked before cur/: messages only ever move new → cur, so a message moved while we
   * look is still found in cur/.
   */
  async find(id: string): Promise<MaildirEntry | undefined> {
    if (!id || id.includes('/') || id.includes('\\') || id.startsWith('.')) return undefined;
    const inNew = path.join(this.dir, 'new', id);
    const st = await stat(inNew).catch(() => undefined);
    if (st?.isFile())
      return { id, file: inNew, folder: 'new', flags: '', size: st.size, mtimeMs: st.mtimeMs };
    let names: string[] = [];
    try {
      names = await readdir(path.join(this.dir, 'cur'));
    } catch {
      return undefined;
    }
    for (const n of names) {
      if (n !== id && !n.startsWith(`${id}:2,`)) continue;
      const file = path.join(this.dir, 'cur', n);
      const cst = await stat(file).catch(() => undefined);
      if (cst?.isFile())
        return {
          id,
          file,
          folder: 'cur',
          flags: splitMaildirName(n).flags,
          size: cst.size,
          mtimeMs: cst.mtimeMs,
        };
    }
    return undefined;
  }

  /** Read a message; a concurrent move between new/ and cur/ (flag change) is retried, not an error. */
  async read(id: string): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const entry = await this.find(id);
      if (!entry) throw new NetkitError('NETKIT_NOT_FOUND', `no message ${id}`);
      try {
        return await readFile(entry.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err;
      }
    }
  }

  async remove(id: string): Promise<boolean> {
    const entry = await this.find(id);
    if (!entry) return false;
    await unlink(entry.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    forgetFile(entry.file);
    return true;
  }

  /** Move to cur/ and add a flag (S = seen), keeping the unique id. */
  async setFlag(id: string, flag: string): Promise<void> {
    const entry = await this.find(id);
    if (!entry || entry.flags.includes(flag)) return;
    const flags = [...new Set((entry.flags + flag).split(''))].sort().join('');
    await rename(entry.file, path.join(this.dir, 'cur', `${entry.id}:2,${flags}`));
  }

  /**
   * Keep at most `max` messages: remove the oldest. Returns how many were removed. `listing`: the
   * mailbox as {@link list} just returned it (saves listing it again).
   */
  async prune(max: number, listing?: MaildirEntry[]): Promise<number> {
    if (!(max > 0)) return 0;
    const all = listing ?? (await this.list());
    const extra = all.slice(0, Math.max(0, all.length - max));
    for (const e of extra) {
      await unlink(e.file).catch(() => {});
      forgetFile(e.file);
    }
    return extra.length;
  }
}
