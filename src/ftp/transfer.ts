/**
 * Moving bytes over an established data connection: a file down (RETR), a file up (STOR, APPE,
 * STOU) or a listing down, with backpressure both ways (the socket's `'drain'`, pausing the
 * socket while the disk catches up) and ABOR as an `AbortSignal`.
 *
 * File transfers are hand-written block loops rather than stream pipelines — see
 * {@link sendFile} and {@link receiveFile} for the measured reasons. The outcome is explicit
 * ({@link TransferOutcome}) so the session answers 226 only for a transfer that completed with a
 * clean close, and 426 for one that broke or was aborted — never a silent truncation. An
 * interrupted upload keeps the bytes that arrived, so `REST n` + `STOR` or `APPE` can resume it.
 */
import { read, readSync, writeSync, writev, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type tls from 'node:tls';
import type { TokenBucket } from '../core/throttle.js';
import { crlfToLf, lfToCrlf } from './ascii.js';
import { giveBlock, takeBlock } from './blocks.js';

export type TransferOutcome =
  | { ok: true; bytes: number }
  | { ok: false; bytes: number; reason: 'aborted' | 'connection' | 'local'; error: Error };

export interface TransferRun {
  socket: Duplex;
  signal: AbortSignal;
  /** called with each chunk's size as it passes */
  onBytes: (n: number) => void;
  /** a data connection with no traffic for this long is broken */
  idleTimeoutMs: number;
  /** a synchronous disk write slower than this switches an upload to asynchronous writes
   * (default {@link SLOW_IO_MS}; a negative value starts asynchronous — for tests) */
  slowIoMs?: number;
  /** paces the transfer (the server's rate limit): blocks no larger than its burst, no faster than its rate */
  bucket?: TokenBucket;
  /**
   * uploads: called with the bytes received so far before they are written; an error it returns
   * stops the upload as a local failure with that error (the size limit, the free-space reserve)
   */
  guard?: (bytes: number) => Error | undefined;
}

/**
 * Downloads are read in blocks of this size (half of it in TYPE A and over TLS, where the socket
 * holds a second copy: the CRLF form, the ciphertext)… It is also what a download whose client
 * stops reading keeps in user space beyond the kernel's socket buffer: the block the socket has
 * not finished sending (each block goes out in one `write`, which pins all of it until the kernel
 * took the last byte). Measured with curl, 1 GiB over loopback on the two-CPU benchmark VM: 512 KiB
 * blocks send as fast as 1 MiB ones (~2,300–2,700 MiB/s), 256 KiB ones 15–20% slower (the time
 * goes to the kernel's send path — a CPU profile shows `writeBuffer` — not to JavaScript). Before
 * this bound a stalled download held four 1 MiB blocks: 500 of them took 1.8 GB.
 */
export const READ_BLOCK = 512 * 1024;
/**
 * …into at most this many reused buffers while the client keeps up (blocks the socket has not sent
 * yet hold theirs); a download waiting for its client gives back all but the one the socket holds.
 */
export const READ_BUFFERS = 4;
/** Uploads are written in blocks of at least this many bytes (one `writev` of socket chunks). */
export const WRITE_BLOCK = 1024 * 1024;
/** While a block is being written, reading pauses once this much more has arrived. */
export const WRITE_BUFFER = 8 * 1024 * 1024;
/** A synchronous block read or write slower than this means a slow disk: go asynchronous. */
export const SLOW_IO_MS = 50;

function classify(err: unknown, signal: AbortSignal, bytes: number, localSide: boolean): TransferOutcome {
  const error = err instanceof Error ? err : new Error(String(err));
  if (signal.aborted) return { ok: false, bytes, reason: 'aborted', error };
  return { ok: false, bytes, reason: localSide ? 'local' : 'connection', error };
}

/**
 * The rate limit after `n` bytes: undefined to go on at once, else the timer that calls `resume`
 * once the bucket allows the next bytes (each loop keeps it, to wait and to clear it when done).
 */
function paceAfter(
  bucket: TokenBucket | undefined,
  n: number,
  resume: () => void,
): NodeJS.Timeout | undefined {
  const wait = bucket?.reserve(n) ?? 0;
  return wait > 0 ? setTimeout(resume, wait) : undefined;
}

function armIdle(run: TransferRun): () => void {
  const socket = run.socket as Duplex & { setTimeout?: (ms: number, cb?: () => void) => void };
  if (typeof socket.setTimeout !== 'function' || run.idleTimeoutMs <= 0) return () => {};
  const onTimeout = () => socket.destroy(new Error(`data connection idle for ${run.idleTimeoutMs} ms`));
  socket.setTimeout(run.idleTimeoutMs, onTimeout);
  return () => socket.setTimeout?.(0);
}

/**
 * Send a file from `start` (REST); `ascii` converts LF to CRLF.
 *
 * A read loop rather than a stream pipeline, for the same reason as {@link receiveFile}: blocks
 * are read on the event-loop thread (a megabyte from the page cache is a fraction of a
 * millisecond; a thread-pool hop per block costs as much again), each handed to the socket, and
 * the loop waits for `'drain'` whenever the socket is full — backpressure as in `pipe()`. A read
 * slower than {@link SLOW_IO_MS} (a cold cache on a slow disk) switches the rest of the transfer to
 * asynchronous reads, so a slow disk never stalls the other sessions.
 *
 * Memory: while it waits for `'drain'` the transfer gives its spare blocks back to the shared pool
 * and keeps only the one the socket is still sending, so a client that stops reading costs one
 * {@link READ_BLOCK} (plus the kernel's socket buffer) until the data connection's idle timeout
 * ends the transfer.
 */
export function sendFile(
  run: TransferRun,
  file: FileHandle,
  opts: { start: number; ascii: boolean },
): Promise<TransferOutcome> {
  const { socket, signal } = run;
  const fd = file.fd;
  let position = opts.start;
  let bytes = 0;
  let prevCR = false;
  let syncReads = true;
  let reading = false;
  let done = false;
  const { bucket } = run;
  // TYPE A and TLS make a second copy of each block (CRLF form, ciphertext): half the size each
  const copies = opts.ascii || (socket as Partial<tls.TLSSocket>).encrypted === true;
  const most = copies ? READ_BLOCK / 2 : READ_BLOCK;
  const blockSize = bucket ? Math.min(most, bucket.burst) : most;
  /** pool blocks come in multiples of 64 KiB */
  const blockBytes = Math.ceil(blockSize / 65536) * 65536;
  /** waiting for the rate limit: neither 'drain' nor a returned block may start the next read */
  let pacing: NodeJS.Timeout | undefined;
  /** waiting for the socket's 'drain': blocks coming back go to the shared pool, not to `free` */
  let waiting = false;
  const disarm = armIdle(run);

  return new Promise<TransferOutcome>((resolve) => {
    const finish = (outcome: TransferOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(pacing);
      for (const block of free.splice(0)) giveBlock(block);
      disarm();
      signal.removeEventListener('abort', onAbort);
      socket.off('drain', onDrain);
      if (!outcome.ok) socket.destroy();
      file.close().then(
        () => resolve(outcome),
        () => resolve(outcome),
      );
    };
    const fail = (reason: 'aborted' | 'connection' | 'local', error: Error) =>
      finish({ ok: false, bytes, reason, error });
    const onAbort = () => fail('aborted', new Error('transfer aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: Error) => fail('connection', err));
    socket.on('close', () => {
      if (!socket.writableFinished)
        fail('connection', new Error('data connection closed before all data was sent'));
    });
    // A few blocks from the shared pool of page-aligned buffers (blocks.ts): a read into an
    // unaligned buffer is several times slower, and fresh ones would be page-faulted in each time.
    const free: Buffer[] = [];
    let allocated = 0;
    let starved = false;
    const nextBlock = (): Buffer | undefined => {
      const b = free.pop();
      if (b) return b;
      if (allocated < READ_BUFFERS) {
        allocated += 1;
        return takeBlock(blockBytes);
      }
      starved = true;
      return undefined;
    };
    const release = (block: Buffer) => {
      if (done) {
        giveBlock(block);
        return;
      }
      if (waiting) {
        allocated -= 1;
        giveBlock(block);
        return;
      }
      free.push(block);
      if (starved) {
        starved = false;
        pump();
      }
    };
    const onDrain = () => {
      waiting = false;
      pump();
    };
    /** The socket is full: wait for 'drain', holding no block but the ones it is still sending. */
    const wait = () => {
      waiting = true;
      socket.once('drain', onDrain);
      allocated -= free.length;
      for (const block of free.splice(0)) giveBlock(block);
    };
    /** After a block went out: true to go on now; false when the rate limit set a timer for `pump`. */
    const paced = (n: number): boolean => {
      pacing = paceAfter(bucket, n, () => {
        pacing = undefined;
        pump();
      });
      return pacing === undefined;
    };
    /** bytes the last block put on the wire (TYPE A adds a CR before each LF): what the rate counts */
    let sent = 0;
    /** Hand one block to the socket; false when the socket wants us to wait for 'drain'. */
    const deliver = (block: Buffer, n: number): boolean => {
      position += n;
      bytes += n;
      run.onBytes(n);
      const out = block.subarray(0, n);
      if (opts.ascii) {
        const r = lfToCrlf(out, prevCR);
        prevCR = r.endsWithCR;
        if (r.out !== out) {
          // the socket sends the converted copy: the block is free at once
          sent = r.out.length;
          free.push(block);
          return socket.write(r.out);
        }
      }
      sent = out.length;
      return socket.write(out, () => release(block));
    };
    const end = () => {
      socket.end(() => finish({ ok: true, bytes }));
    };
    function pump(): void {
      // after a pause for the rate limit the socket may still be full: its 'drain' calls us
      if (done || reading || pacing || socket.writableNeedDrain) return;
      while (syncReads) {
        const block = nextBlock();
        if (!block) return;
        const started = performance.now();
        let n: number;
        try {
          n = readSync(fd, block, 0, blockSize, position);
        } catch (err) {
          release(block);
          fail('local', err as Error);
          return;
        }
        if (performance.now() - started > SLOW_IO_MS) syncReads = false;
        if (n === 0) {
          release(block);
          end();
          return;
        }
        const more = deliver(block, n);
        const now = paced(sent);
        if (!more) {
          wait();
          return;
        }
        if (!now) return;
      }
      const block = nextBlock();
      if (!block) return;
      reading = true;
      read(fd, block, 0, blockSize, position, (err, n) => {
        reading = false;
        if (done || err) release(block);
        if (done) return;
        if (err) return fail('local', err);
        if (n === 0) {
          release(block);
          return end();
        }
        const more = deliver(block, n);
        const now = paced(sent);
        if (!more) wait();
        else if (now) pump();
      });
    }
    if (signal.aborted) onAbort();
    else if (socket.destroyed)
      fail('connection', new Error('data connection closed before the transfer started'));
    else pump();
  });
}

/**
 * Receive into an open file at `start` (undefined: append); `ascii` converts CRLF to LF.
 *
 * Not a stream pipeline, for speed and for resumability.
 *
 * Speed: on a plain TCP data connection in TYPE I (the common case) the socket reads straight into
 * one reused, page-aligned {@link RECEIVE_BLOCK}-byte buffer (see {@link receiveDirect}), and each
 * read is written out synchronously at once, while it is still in the CPU cache — the way vsftpd
 * reads and writes. An upload is two kernel copies per byte (socket to buffer, buffer to page
 * cache) and the rest is noise, but three things made those copies slow, each measured against
 * curl on the two-CPU benchmark VM: gathering Node's fresh 64 KiB read buffers into megabyte
 * `writev`s (the previous design) made the second copy read cold memory and page-faulted new
 * buffers in all the time (~500–580 MiB/s, vs ~850–1,400 reading into one reused buffer, in the
 * same minimal receiver); a buffer not 64-byte aligned makes the first copy several times slower
 * (see blocks.ts); and truncating the new, empty file made ext4 write the whole upload back in
 * `close` before the 226 (see the STOR command). End to end (`npm run bench -- ftp`, 1 GiB, same
 * runs): ~445 → ~1,600–1,730 MiB/s, with vsftpd at ~1,090. Writes stay on the event-loop thread: a
 * thread-pool hop per block cost as much again. Should one write take longer than
 * {@link SLOW_IO_MS} (the kernel is throttling writeback to a slow disk), the rest of the transfer
 * uses asynchronous writes of megabyte blocks, one write in flight while the socket fills the
 * next block, reading paused once {@link WRITE_BUFFER} bytes wait — so a slow disk never stalls
 * the other sessions and memory stays bounded. TYPE A and TLS connections use the stream reader
 * ({@link receiveStream}) with the same write policy.
 *
 * Broken connections: `'end'` alone is not proof that the client finished — see
 * {@link confirmEnd} — so a reset upload is answered 426, never 226.
 *
 * Resumability: when the connection breaks or ABOR arrives, everything already received is still
 * written out before the outcome is reported, so the partial file holds every byte that arrived
 * and `REST` + `STOR` or `APPE` can resume exactly there.
 */
export function receiveFile(
  run: TransferRun,
  file: FileHandle,
  opts: { start?: number; ascii: boolean },
): Promise<TransferOutcome> {
  const tcp = plainTcp(run.socket);
  // keep our side open after the client's FIN until confirmEnd has checked it was one
  if (tcp) tcp.allowHalfOpen = true;
  return (
    (tcp && !opts.ascii ? receiveDirect(run, tcp, file, opts.start) : undefined) ??
    receiveStream(run, file, opts)
  );
}

/** Plain-TCP uploads read into a reused, page-aligned buffer of this size, written out after each read. */
export const RECEIVE_BLOCK = 512 * 1024;
/** With asynchronous writes, a block is queued for the disk once less than this is free in it. */
const MIN_READ = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** The socket, when it is a plain (not TLS) TCP socket. */
function plainTcp(socket: Duplex): net.Socket | undefined {
  return socket instanceof net.Socket && !(socket as Partial<tls.TLSSocket>).encrypted ? socket : undefined;
}

/**
 * Decide whether an upload's `'end'` was the client's clean close (FIN) or a reset (RST).
 *
 * libuv reports end-of-stream when the kernel signals a hang-up right after a short read, and a
 * reset that arrives while data is still queued is such a hang-up: Node 20 then emits `'end'`
 * instead of ECONNRESET (reproduced with the default reader and with `onread`, whenever the queued
 * data is not a whole number of read buffers). The kernel still tells them apart: after a FIN the
 * socket is half-closed and a zero-byte send succeeds; after a reset it fails (ECONNRESET or EPIPE).
 * So the upload keeps its side open (`allowHalfOpen`), probes with an empty write — nothing goes
 * on the wire — and only then ends its side. TLS sockets are not probed here.
 */
function confirmEnd(socket: Duplex, done: (err: Error | null) => void): void {
  const tcp = plainTcp(socket);
  if (!tcp) {
    done(null);
    return;
  }
  if (tcp.destroyed) {
    done(new Error('data connection closed before the end of the data'));
    return;
  }
  tcp.write(EMPTY, (err) => {
    if (err) {
      done(err);
      return;
    }
    tcp.end();
    done(null);
  });
}

/** Node's internals behind the documented `onread` socket option (see {@link readIntoOwnBuffers}). */
interface StreamHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * Make `socket` read into caller-supplied buffers, as `net.connect({ onread })` does — but for any
 * connected socket: Node offers `onread` only for sockets it creates itself, never for accepted ones
 * (our passive data connections). This sets the three fields that option sets and hands the first
 * buffer to the handle, exactly as `net.Socket`'s constructor does; after each read, `callback`
 * gets the byte count (returning false stops reading until `resume()`) and `next` supplies the
 * buffer for the following read. Returns false — the caller then uses the stream reader — if this
 * Node does not have those internals, or the socket already has data buffered or its own `onread`.
 */
function readIntoOwnBuffers(
  socket: net.Socket,
  next: () => Buffer,
  callback: (n: number) => boolean,
): boolean {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (typeof handle?.useUserBuffer !== 'function') return false;
  if (socket.destroyed || socket.readableEnded || socket.readableLength > 0) return false;
  const symbols = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => symbols.find((s) => s.description === name);
  const kBuffer = find('kBuffer');
  const kBufferCb = find('kBufferCb');
  const kBufferGen = find('kBufferGen');
  if (!kBuffer || !kBufferCb || !kBufferGen) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[kBuffer] !== null || fields[kBufferCb] !== null || fields[kBufferGen] !== null) return false;
  const first = next();
  fields[kBuffer] = first;
  fields[kBufferGen] = next;
  fields[kBufferCb] = (n: number) => callback(n);
  handle.useUserBuffer(first);
  return true;
}

/**
 * {@link receiveFile} on a plain TCP socket in TYPE I, reading into our own buffers (undefined when
 * the socket cannot do that). Synchronous writes: every read goes to the start of one
 * {@link RECEIVE_BLOCK} buffer and is written out before the next. Asynchronous writes (after a
 * slow one): megabyte blocks, each queued when nearly full; the writer takes every queued block in
 * one `writev`; reading stops while no block would be free for the next one. The blocks go back
 * to the shared pool (blocks.ts) once the socket has closed, when no read can touch them.
 */
function receiveDirect(
  run: TransferRun,
  socket: net.Socket,
  file: FileHandle,
  start: number | undefined,
): Promise<TransferOutcome> | undefined {
  const { signal } = run;
  const fd = file.fd;
  let position: number | null = start ?? null;
  let bytes = 0;
  const slowIoMs = run.slowIoMs ?? SLOW_IO_MS;
  let syncWrites = slowIoMs >= 0;
  /** every block this transfer took from the pool: given back once the socket has closed */
  const owned: Buffer[] = [];
  const take = (size: number): Buffer => {
    const b = takeBlock(size);
    owned.push(b);
    return b;
  };
  /** the buffer being read into, `filled` bytes of it so far */
  let block = take(RECEIVE_BLOCK);
  let filled = 0;
  // asynchronous mode: blocks waiting for the disk (and the one being written), and spare ones
  let queue: Buffer[] = [];
  let owners: Buffer[] = [];
  let queued = 0;
  let writing = false;
  const free: Buffer[] = [];
  let allocated = 0;
  let starved = false;
  /** no more data will be read: end of data, broken connection, abort or local error */
  let ended = false;
  /** the end of data was a clean close */
  let confirmed = false;
  let failure: { reason: 'aborted' | 'connection' | 'local'; error: Error } | undefined;
  let settle = () => {};
  const { bucket } = run;
  /** reads are at most this long, so the rate limit can act between them */
  const readCap = bucket ? bucket.burst : Number.POSITIVE_INFINITY;
  /** waiting for the rate limit: the socket is paused until this timer fires */
  let pacing: NodeJS.Timeout | undefined;

  const canTakeBlock = () => free.length > 0 || allocated < WRITE_BUFFER / WRITE_BLOCK;
  const nextBlock = (): Buffer => {
    const b = free.pop();
    if (b) return b;
    allocated += 1;
    return take(WRITE_BLOCK);
  };
  const failed = (err: Error) => {
    failure = { reason: 'local', error: err };
    ended = true;
    queue = [];
    owners = [];
    queued = 0;
    filled = 0;
    socket.destroy();
    settle();
  };
  const writeSync = () => {
    const length = filled;
    filled = 0;
    const started = performance.now();
    try {
      writevAllSync(fd, [block.subarray(0, length)], length, position);
    } catch (err) {
      failed(err as Error);
      return;
    }
    if (position !== null) position += length;
    if (performance.now() - started > slowIoMs) syncWrites = false;
  };
  /** Asynchronous mode: queue the current block, continue in a fresh one. */
  const rotate = () => {
    if (filled > 0) {
      queue.push(block.subarray(0, filled));
      owners.push(block);
      queued += filled;
      filled = 0;
      if (!ended) block = nextBlock();
    }
    pump();
  };
  const pump = () => {
    if (writing) return;
    if (failure?.reason === 'local' || queue.length === 0) {
      settle();
      return;
    }
    const parts = queue;
    const blocks = owners;
    const length = queued;
    queue = [];
    owners = [];
    queued = 0;
    writing = true;
    writevAll(fd, parts, length, position, (err) => {
      writing = false;
      if (err) {
        failed(err);
        return;
      }
      if (position !== null) position += length;
      free.push(...blocks);
      if (starved && !ended) {
        starved = false;
        if (!pacing) socket.resume();
      }
      pump();
    });
  };
  /** After a read: true to read on now; false when the rate limit paused the socket for a while. */
  const paced = (n: number): boolean => {
    pacing = paceAfter(bucket, n, () => {
      pacing = undefined;
      if (!ended && !starved) socket.resume();
    });
    return pacing === undefined;
  };
  const onRead = (n: number): boolean => {
    if (ended) return false;
    bytes += n;
    run.onBytes(n);
    const refused = run.guard?.(bytes);
    if (refused) {
      failed(refused);
      return false;
    }
    filled += n;
    if (syncWrites) {
      // every read starts at the (aligned) start of the block: see blocks.ts
      writeSync();
      return !ended && paced(n);
    }
    if (block.length - filled < MIN_READ) rotate();
    // the next read must have a block to rotate to when this one fills: otherwise wait for the disk
    if (!canTakeBlock()) starved = true;
    return paced(n) && !starved;
  };
  const next = () =>
    ended
      ? EMPTY
      : filled === 0 && readCap >= block.length
        ? block
        : block.subarray(filled, Math.min(block.length, filled + readCap));
  if (!readIntoOwnBuffers(socket, next, onRead)) return undefined;

  const disarm = armIdle(run);
  return new Promise<TransferOutcome>((resolve) => {
    let settled = false;
    let closed = false;
    const giveBack = () => {
      if (settled && closed) for (const b of owned.splice(0)) giveBlock(b);
    };
    settle = () => {
      if (settled || writing || queue.length > 0 || !ended || !(failure || confirmed)) return;
      settled = true;
      clearTimeout(pacing);
      giveBack();
      disarm();
      signal.removeEventListener('abort', onAbort);
      const outcome: TransferOutcome = failure ? { ok: false, bytes, ...failure } : { ok: true, bytes };
      file.close().then(
        () => resolve(outcome),
        () => resolve(outcome),
      );
    };
    /** Everything received goes to the file, whatever ended the transfer. */
    const drain = () => {
      if (failure?.reason === 'local') return;
      if (syncWrites && !writing) {
        if (filled > 0) writeSync();
        settle();
      } else rotate();
    };
    const stop = (reason: 'aborted' | 'connection', error: Error): void => {
      if (failure || confirmed) return;
      failure = { reason, error };
      const wasEnded = ended;
      ended = true;
      socket.destroy();
      if (!wasEnded) drain();
      else settle();
    };
    const onAbort = () => stop('aborted', new Error('transfer aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('end', () => {
      if (ended) return;
      ended = true;
      drain(); // first: the check below may fail at once, and that settles when nothing is queued
      confirmEnd(socket, (err) => {
        if (err) stop('connection', err);
        else if (!failure) {
          confirmed = true;
          settle();
        }
      });
    });
    socket.on('error', (err: Error) => stop('connection', err));
    socket.on('close', () => {
      closed = true;
      if (!socket.readableEnded)
        stop('connection', new Error('data connection closed before the end of the data'));
      giveBack();
    });
    if (signal.aborted) onAbort();
    else socket.resume();
  });
}

/**
 * {@link receiveFile} with the socket's own reads (TYPE A, TLS, or a socket that cannot read into
 * our buffers): its chunks (64 KiB each) are gathered and written with one `writev` per
 * {@link WRITE_BLOCK} in the check phase, synchronously until one write is slower than
 * {@link SLOW_IO_MS}, then asynchronously with one write in flight and reading paused once
 * {@link WRITE_BUFFER} bytes wait.
 */
function receiveStream(
  run: TransferRun,
  file: FileHandle,
  opts: { start?: number; ascii: boolean },
): Promise<TransferOutcome> {
  const { socket, signal } = run;
  const fd = file.fd;
  let position: number | null = opts.start ?? null;
  let bytes = 0;
  let parts: Buffer[] = [];
  let queued = 0;
  let writing = false;
  let ended = false;
  let pendingCR = false;
  /** bytes for the file so far (after the TYPE A conversion) */
  let stored = 0;
  let failure: { reason: 'aborted' | 'connection' | 'local'; error: Error } | undefined;
  /** waiting for the rate limit: the socket is paused until this timer fires */
  let pacing: NodeJS.Timeout | undefined;
  const disarm = armIdle(run);

  return new Promise<TransferOutcome>((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(pacing);
      disarm();
      signal.removeEventListener('abort', onAbort);
      const outcome: TransferOutcome = failure ? { ok: false, bytes, ...failure } : { ok: true, bytes };
      file.close().then(
        () => resolve(outcome),
        () => resolve(outcome),
      );
    };
    const slowIoMs = run.slowIoMs ?? SLOW_IO_MS;
    let syncWrites = slowIoMs >= 0;
    const failed = (err: Error) => {
      failure = { reason: 'local', error: err };
      ended = true;
      parts = [];
      queued = 0;
      socket.destroy();
      // a write still in flight must land before the file is closed (and then perhaps cut back):
      // its callback pumps, which settles
      if (!writing) settle();
    };
    const take = (): [Buffer[], number] => {
      const batch: [Buffer[], number] = [parts, queued];
      parts = [];
      queued = 0;
      return batch;
    };
    // Writes happen in the check phase (setImmediate), after every chunk the poll phase read:
    // one large writev per loop turn instead of one per megabyte.
    let scheduled = false;
    const schedule = () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        pump();
      });
    };
    const pump = () => {
      while (!writing && syncWrites && (queued >= WRITE_BLOCK || (ended && queued > 0))) {
        const [batch, length] = take();
        const started = performance.now();
        try {
          writevAllSync(fd, batch, length, position);
        } catch (err) {
          failed(err as Error);
          return;
        }
        if (position !== null) position += length;
        if (performance.now() - started > slowIoMs) syncWrites = false;
      }
      if (writing) return;
      if (queued === 0 || (!ended && queued < WRITE_BLOCK)) {
        if (!ended && !pacing && socket.isPaused() && queued < WRITE_BUFFER) socket.resume();
        if (ended) settle();
        return;
      }
      const [batch, length] = take();
      writing = true;
      writevAll(fd, batch, length, position, (err) => {
        writing = false;
        if (err) {
          failed(err);
          return;
        }
        if (position !== null) position += length;
        pump();
      });
    };
    const finish = () => {
      if (ended) return;
      ended = true;
      if (opts.ascii && pendingCR && !failure) {
        parts.push(Buffer.from([13]));
        queued += 1;
      }
      pump();
    };
    const stop = (reason: 'aborted' | 'connection', error: Error): void => {
      if (failure || ended) return;
      failure = { reason, error };
      socket.destroy();
      finish();
    };
    const onAbort = () => stop('aborted', new Error('transfer aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      if (ended) return;
      bytes += chunk.length;
      run.onBytes(chunk.length);
      let data = chunk;
      if (opts.ascii) {
        const r = crlfToLf(chunk, pendingCR);
        pendingCR = r.pendingCR;
        data = r.out;
      }
      // the guard counts what the file gets: in TYPE A, CRLF arrives and LF is stored
      stored += data.length;
      const refused = run.guard?.(stored);
      if (refused) {
        failed(refused);
        return;
      }
      if (data.length > 0) {
        parts.push(data);
        queued += data.length;
      }
      if (queued >= WRITE_BUFFER) socket.pause();
      if (queued >= WRITE_BLOCK) schedule();
      pacing = paceAfter(run.bucket, chunk.length, () => {
        pacing = undefined;
        if (!ended && queued < WRITE_BUFFER) socket.resume();
      });
      if (pacing) socket.pause();
    });
    socket.on('end', () => {
      if (ended) return;
      confirmEnd(socket, (err) => {
        if (err) stop('connection', err);
        else finish();
      });
    });
    socket.on('error', (err: Error) => stop('connection', err));
    socket.on('close', () => {
      if (!socket.readableEnded)
        stop('connection', new Error('data connection closed before the end of the data'));
    });
    if (signal.aborted) onAbort();
    else if (socket.readableEnded) finish();
    else if (socket.destroyed)
      stop('connection', new Error('data connection closed before the transfer started'));
    else socket.resume();
  });
}

/** {@link writevAll}, synchronously. */
function writevAllSync(fd: number, parts: Buffer[], length: number, position: number | null): void {
  let written = writevSync(fd, parts, position ?? undefined);
  if (written >= length) return;
  const all = Buffer.concat(parts, length);
  while (written < length) {
    written += writeSync(fd, all, written, length - written, position === null ? null : position + written);
  }
}

/** `fs.writev` until every byte of `parts` is written (short writes continue where they stopped). */
function writevAll(
  fd: number,
  parts: Buffer[],
  length: number,
  position: number | null,
  done: (err: NodeJS.ErrnoException | null) => void,
): void {
  writev(fd, parts, position, (err, written) => {
    if (err) return done(err);
    if (written >= length) return done(null);
    const rest = Buffer.concat(parts, length).subarray(written);
    writevAll(fd, [rest], length - written, position === null ? null : position + written, done);
  });
}

/** A listing leaves in pieces of about this many bytes, never as one buffer per session. */
const LISTING_CHUNK_BYTES = 64 * 1024;

/** The CRLF-terminated lines of a listing, UTF-8, in pieces of about {@link LISTING_CHUNK_BYTES}. */
export function* listingChunks(
  lines: readonly string[],
  chunkBytes = LISTING_CHUNK_BYTES,
): Generator<Buffer> {
  let from = 0;
  let size = 0;
  for (let i = 0; i < lines.length; i++) {
    size += lines[i]!.length + 2;
    if (size >= chunkBytes || i === lines.length - 1) {
      yield Buffer.from(`${lines.slice(from, i + 1).join('\r\n')}\r\n`, 'utf8');
      from = i + 1;
      size = 0;
    }
  }
}

/** The bytes {@link sendLines} sends for `lines`. */
export function listingBytes(lines: readonly string[]): number {
  let n = 0;
  for (const line of lines) n += Buffer.byteLength(line, 'utf8') + 2;
  return n;
}

/**
 * Send a listing (shared, from the listing cache) with backpressure, a piece at a time: a client
 * that never reads its data connection holds a piece or two, not the whole listing — building one
 * buffer per session let sessions listing a 200,000-entry directory take gigabytes.
 */
export async function sendLines(run: TransferRun, lines: readonly string[]): Promise<TransferOutcome> {
  const disarm = armIdle(run);
  let bytes = 0;
  const counted = function* () {
    for (const chunk of listingChunks(lines)) {
      yield chunk;
      bytes += chunk.length;
      run.onBytes(chunk.length);
    }
  };
  try {
    await pipeline(
      Readable.from(counted(), { objectMode: false, highWaterMark: LISTING_CHUNK_BYTES }),
      run.socket,
      {
        signal: run.signal,
      },
    );
    return { ok: true, bytes };
  } catch (err) {
    return classify(err, run.signal, bytes, false);
  } finally {
    disarm();
  }
}
