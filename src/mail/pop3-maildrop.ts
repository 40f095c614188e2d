/**
 * One POP3 session's view of a mailbox (RFC 1939's "maildrop"): the Maildir listing snapshotted at
 * login, so message numbers stay fixed for the whole session however the directory changes; the
 * deletion marks; and the UPDATE step that applies them after QUIT.
 *
 * It reads the Maildir directly instead of going through `Maildir.read()`/`remove()`, which look a
 * message up by listing the whole directory: fine for one message, quadratic for a session that
 * retrieves or deletes thousands. Files are addressed by the path seen at login; when one has moved
 * (another program flagged it into `cur/`), the listing is re-read once and every path refreshed.
 *
 * Octet sizes (CRLF form, see pop3-message.ts) are computed lazily — a client that only issues UIDL
 * and RETR never pays for a full scan — and cached process-wide by (mailbox, id, file size), since
 * Maildir messages never change once delivered. The listing itself comes from maildir-listing.ts
 * (a stat cache), so a login to a large mailbox is one readdir per folder.
 *
 * Small messages (up to {@link SYNC_READ_LIMIT}) are read with one blocking open/read/close, as
 * nginx (without aio) and Dovecot read files: on a page-cached Maildir that costs ~20 µs, where
 * `fs.promises.readFile` takes four thread-pool round trips (measured 30× slower per 10 KB message
 * on a 2-vCPU VM), which is what bounds a pipelined download of thousands of messages. Larger
 * messages are streamed asynchronously in chunks, so one huge message never stalls other sessions.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Maildir, MaildirEntry } from './maildir.js';
import { forgetFile, listMaildir } from './maildir-listing.js';
import { type MessageScan, MessageScanner, scanMessage } from './pop3-message.js';

/** Messages up to this size are read whole with blocking calls; larger ones are streamed in chunks. */
export const SYNC_READ_LIMIT = 256 * 1024;
/** Chunk size for streamed messages and size scans of large files. */
export const CHUNK_SIZE = 64 * 1024;
const SIZE_CACHE_MAX = 200_000;
/** Longest stretch of blocking size scans before yielding to other connections. */
const SCAN_SLICE_MS = 5;

export interface DropMessage {
  /** message number in this session, 1-based */
  readonly n: number;
  /** Maildir unique name */
  readonly id: string;
  /** the UIDL value: the unique name, or its hash when it is not a valid UIDL */
  readonly uid: string;
  file: string;
  flags: string;
  /** bytes on disk */
  readonly rawSize: number;
  /** octets in CRLF form, once known */
  size?: number;
  /** what the size scan found (line ends, dot-led lines), once known */
  scan?: MessageScan;
  deleted: boolean;
  /** retrieved with RETR in this session (flagged seen on QUIT) */
  retrieved: boolean;
}

/** RFC 1939 §7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E. */
export function uidFor(id: string): string {
  if (/^[\x21-\x7e]{1,70}$/.test(id)) return id;
  return createHash('sha1').update(id).digest('hex');
}

const sizeCache = new Map<string, MessageScan>();

function cacheKey(dir: string, msg: DropMessage): string {
  return `${dir}\u0000${msg.id}\u0000${msg.rawSize}`;
}

function remember(key: string, scan: MessageScan): void {
  if (sizeCache.size >= SIZE_CACHE_MAX) {
    const oldest = sizeCache.keys().next().value;
    if (oldest !== undefined) sizeCache.delete(oldest);
  }
  sizeCache.set(key, scan);
}

export interface UpdateResult {
  deleted: string[];
  /** deletions that could not be applied */
  failed: number;
}

export class Maildrop {
  readonly messages: DropMessage[];
  private refreshed: Promise<void> | undefined;

  private constructor(
    readonly maildir: Maildir,
    entries: MaildirEntry[],
  ) {
    this.messages = entries.map((e, i) => {
      const msg: DropMessage = {
        n: i + 1,
        id: e.id,
        uid: uidFor(e.id),
        file: e.file,
        flags: e.flags,
        rawSize: e.size,
        deleted: false,
        retrieved: false,
      };
      const cached = sizeCache.get(cacheKey(maildir.dir, msg));
      if (cached) {
        msg.size = cached.size;
        msg.scan = cached;
      }
      return msg;
    });
  }

  /** Snapshot the mailbox (the caller holds the mailbox lock). */
  static async open(maildir: Maildir): Promise<Maildrop> {
    return new Maildrop(maildir, await listMaildir(maildir.dir));
  }

  /** The message with this number, deleted or not; undefined when out of range. */
  get(n: number): DropMessage | undefined {
    return this.messages[n - 1];
  }

  /** Messages not marked as deleted. */
  live(): DropMessage[] {
    return this.messages.filter((m) => !m.deleted);
  }

  /** Octets of one message in CRLF form. */
  async sizeOf(msg: DropMessage): Promise<number> {
    if (msg.size === undefined) await this.scan(msg);
    return msg.size!;
  }

  /**
   * Make sure every live message has its size. Small files are read with blocking calls (see the
   * module comment) in slices of a few milliseconds, yielding to the event loop in between, so a
   * first STAT on a mailbox of thousands of messages neither crawls nor stalls other sessions.
   */
  async ensureSizes(): Promise<void> {
    let slice = performance.now();
    for (const m of this.messages) {
      if (m.deleted || m.size !== undefined) continue;
      await this.scan(m);
      if (performance.now() - slice > SCAN_SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
    }
  }

  /** STAT: count and octets of the live messages. */
  async stat(): Promise<{ count: number; octets: number }> {
    await this.ensureSizes();
    let octets = 0;
    const live = this.live();
    for (const m of live) octets += m.size!;
    return { count: live.length, octets };
  }

  private async scan(msg: DropMessage): Promise<void> {
    let result: MessageScan;
    if (msg.rawSize <= SYNC_READ_LIMIT) {
      result = scanMessage(await this.readWhole(msg));
    } else {
      const scanner = new MessageScanner();
      for await (const chunk of this.chunks(msg)) scanner.push(chunk);
      result = scanner.result();
    }
    this.record(msg, result);
  }

  /** Store a scan result on the message and in the process-wide cache. */
  record(msg: DropMessage, scan: MessageScan): void {
    msg.size = scan.size;
    msg.scan = scan;
    remember(cacheKey(this.maildir.dir, msg), scan);
  }

  /**
   * The whole file of a small message, read at once (see the module comment on blocking reads);
   * undefined when the file is no longer where the snapshot saw it (then use {@link readWhole}).
   */
  readWholeNow(msg: DropMessage): Buffer | undefined {
    try {
      return readSmallFile(msg.file, msg.rawSize);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** The whole file of a small message, finding it again if another program moved it. */
  async readWhole(msg: DropMessage): Promise<Buffer> {
    return (
      this.readWholeNow(msg) ?? this.withRelocation(msg, async () => readSmallFile(msg.file, msg.rawSize))
    );
  }

  /** Stream a large message in chunks. */
  async *chunks(msg: DropMessage): AsyncGenerator<Buffer> {
    const fh = await this.withRelocation(msg, () => open(msg.file, 'r'));
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(CHUNK_SIZE);
        const { bytesRead } = await fh.read(buf, 0, CHUNK_SIZE, null);
        if (bytesRead === 0) return;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  /** Run a file operation; on ENOENT re-read the directory once, fix the path and try again. */
  private async withRelocation<T>(msg: DropMessage, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const before = msg.file;
      await this.refreshPaths();
      if (msg.file === before) throw err;
      return op();
    }
  }

  /** One listing of the Maildir, shared by all concurrent callers, to find moved files. */
  private refreshPaths(): Promise<void> {
    this.refreshed ??= (async () => {
      const byId = new Map((await listMaildir(this.maildir.dir)).map((e) => [e.id, e]));
      for (const m of this.messages) {
        const e = byId.get(m.id);
        if (e) {
          m.file = e.file;
          m.flags = e.flags;
        }
      }
    })().finally(() => {
      this.refreshed = undefined;
    });
    return this.refreshed;
  }

  /**
   * RFC 1939 UPDATE: remove the messages marked as deleted, and (when `markSeen`) move retrieved
   * ones to `cur/` with the S flag, as Dovecot does. A file already gone counts as deleted.
   */
  async update(markSeen: boolean): Promise<UpdateResult> {
    const deleted: string[] = [];
    let failed = 0;
    for (const m of this.messages) {
      if (m.deleted) {
        try {
          await this.withRelocation(m, () => unlink(m.file));
          forgetFile(m.file);
          deleted.push(m.uid);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') deleted.push(m.uid);
          else failed += 1;
        }
      } else if (markSeen && m.retrieved && !m.flags.includes('S')) {
        const flags = [...new Set(`${m.flags}S`.split(''))].sort().join('');
        const target = path.join(this.maildir.dir, 'cur', `${m.id}:2,${flags}`);
        await this.withRelocation(m, () => rename(m.file, target)).then(
          () => forgetFile(m.file),
          () => {
            // flagging is a courtesy: a message moved or removed meanwhile is not an error
          },
        );
      }
    }
    return { deleted, failed };
  }
}

/** open + read + close, one syscall each; `expected` is the size seen at login (a hint only). */
function readSmallFile(file: string, expected: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(expected + 1);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const want = buf.length - len;
      const n = readSync(fd, buf, len, want, null);
      len += n;
      // a regular file reads short only at its end: no second call just to see 0
      if (n < want) break;
    }
    return buf.subarray(0, len);
  } finally {
    closeSync(fd);
  }
}
