/**
 * Writing `FILE.part`: one file handle shared by every connection, each writing its own region
 * with positional writes (no seeking, no ordering between connections). A `PositionalSink` per
 * request writes the chunks as they arrive (see its comment for the sync/async choice) and, when
 * the disk falls behind, asks the caller to pause the socket (backpressure from disk to network).
 */
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { NetkitError, systemErrorWords } from '../../core/errors.js';

/** A one-line, actionable message for a file-system failure (ENOSPC, EACCES, EROFS…). */
export function ioError(err: unknown, file: string): NetkitError {
  // writing, a missing path component is a directory that is not there
  const reason =
    (err as NodeJS.ErrnoException)?.code === 'ENOENT' ? 'no such directory' : systemErrorWords(err);
  return new NetkitError('NETKIT_IO', `cannot write ${file}: ${reason}`, { cause: err });
}

export class PartFile {
  readonly path: string;
  private readonly fh: FileHandle;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.fh = fh;
  }

  /**
   * Open (`fresh`: create or empty it) and, when the size is known, set the length up front so
   * every positional write lands inside the file (sparse where the file system allows).
   */
  static async open(path: string, opts: { fresh: boolean; size?: number }): Promise<PartFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, opts.fresh ? 'w' : 'r+', 0o644);
    } catch (err) {
      if (!opts.fresh && (err as NodeJS.ErrnoException).code === 'ENOENT')
        return PartFile.open(path, { ...opts, fresh: true });
      throw ioError(err, path);
    }
    const part = new PartFile(path, fh);
    if (opts.size !== undefined) await part.truncate(opts.size);
    return part;
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  async truncate(size: number): Promise<void> {
    try {
      await this.fh.truncate(size);
    } catch (err) {
      throw ioError(err, this.path);
    }
  }

  /** Write all of `buffers` at `position` (one `writev`), continuing after short writes. */
  async write(buffers: Buffer[], position: number): Promise<void> {
    let pending = buffers;
    let pos = position;
    try {
      while (pending.length > 0) {
        const { bytesWritten } = await this.fh.writev(pending, pos);
        if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        pos += bytesWritten;
        pending = skipBytes(pending, bytesWritten);
      }
    } catch (err) {
      throw err instanceof NetkitError ? err : ioError(err, this.path);
    }
  }

  /** The same, blocking: for page-cache writes that take microseconds (see PositionalSink). */
  writeSync(data: Buffer, position: number): void {
    let off = 0;
    try {
      while (off < data.length) {
        const n = writeSync(this.fh.fd, data, off, data.length - off, position + off);
        if (n === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        off += n;
      }
    } catch (err) {
      throw ioError(err, this.path);
    }
  }

  async sync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw ioError(err, this.path);
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => {});
  }
}

/** Drop the first `n` bytes of a list of buffers. */
function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) skip -= b.length;
    else {
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return rest;
}

const IOV_MAX = 1024;

/** A blocking write slower than this means the disk pushes back: switch to async writes. */
export const SLOW_WRITE_MS = 50;

/**
 * Sequential writer for one region of the part file.
 *
 * Fast path: each received chunk is written at once with a blocking positional write, while it is
 * still hot in the CPU cache — a page-cache write of 64 KiB takes microseconds, and skipping the
 * thread pool halves the downloader's CPU time (curl and aria2c write the same way). If one such
 * write takes longer than {@link SLOW_WRITE_MS} (dirty-page throttling, a slow disk), the sink
 * switches to async `writev` batches so the event loop does not stall behind the disk, and past a
 * high-water mark asks the caller to pause the socket; once that backlog drains it goes back to
 * the fast path (a one-off hiccup, like being descheduled, costs one batch).
 */
export class PositionalSink {
  /** every byte before this offset has been handed to the kernel */
  written: number;
  error: NetkitError | undefined;
  onDrain: (() => void) | undefined;
  onError: ((err: NetkitError) => void) | undefined;
  private readonly file: PartFile;
  private readonly highWaterMark: number;
  private readonly slowWriteMs: number;
  private async = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private idle: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(file: PartFile, position: number, opts: { highWaterMark?: number; slowWriteMs?: number } = {}) {
    this.file = file;
    this.written = position;
    this.highWaterMark = opts.highWaterMark ?? 8 * 1024 * 1024;
    this.slowWriteMs = opts.slowWriteMs ?? SLOW_WRITE_MS;
  }

  /** Writing in the background (the disk was slow), rather than inline. */
  get background(): boolean {
    return this.async;
  }

  /** Take a chunk for the next position; false means "pause the source until onDrain". */
  push(chunk: Buffer): boolean {
    if (this.error) return false;
    if (!this.async && !this.writing && this.queue.length === 0) {
      const t0 = performance.now();
      try {
        this.file.writeSync(chunk, this.written);
      } catch (err) {
        this.fail(err);
        return false;
      }
      this.written += chunk.length;
      if (performance.now() - t0 > this.slowWriteMs) this.async = true;
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (!this.writing) void this.pump();
    return this.queued < this.highWaterMark;
  }

  /** Resolves once everything pushed so far is written; rejects with the write error. */
  flush(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idle.push({ resolve, reject }));
  }

  private fail(err: unknown): void {
    this.error = err instanceof NetkitError ? err : ioError(err, this.file.path);
    this.queue = [];
    this.queued = 0;
    this.onError?.(this.error);
  }

  private async pump(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0 && !this.error) {
      const batch = this.queue.length <= IOV_MAX ? this.queue : this.queue.slice(0, IOV_MAX);
      this.queue = this.queue.length <= IOV_MAX ? [] : this.queue.slice(IOV_MAX);
      const bytes = batch.reduce((n, b) => n + b.length, 0);
      try {
        await this.file.write(batch, this.written);
        this.written += bytes;
        const wasFull = this.queued >= this.highWaterMark;
        this.queued -= bytes;
        if (wasFull && this.queued < this.highWaterMark) this.onDrain?.();
      } catch (err) {
        this.fail(err);
      }
    }
    this.writing = false;
    this.async = false; // the backlog is gone: the disk keeps up again
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) {
      if (this.error) w.reject(this.error);
      else w.resolve();
    }
  }
}
