/**
 * Moving bytes over an established data connection: a file down (RETR), a file up (STOR, APPE,
 * STOU) or a listing down. Everything is a `stream.pipeline`, so backpressure runs from the socket
 * to the disk and back, an error anywhere destroys both ends, and ABOR is an `AbortSignal`.
 *
 * The outcome is explicit ({@link TransferOutcome}) so the session can answer 226 only for a
 * transfer that completed with a clean close and 426 for one that broke or was aborted — never a
 * silent truncation. An interrupted upload keeps the bytes that arrived, so `REST n` + `STOR` or
 * `APPE` can resume it.
 */
import { writev } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { type Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crlfToLf, toNetworkAscii } from './ascii.js';

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
}

/** Chunk size for file reads and writes: large chunks keep per-chunk overhead off the fast path. */
export const FILE_CHUNK = 512 * 1024;

function classify(err: unknown, signal: AbortSignal, bytes: number, localSide: boolean): TransferOutcome {
  const error = err instanceof Error ? err : new Error(String(err));
  if (signal.aborted) return { ok: false, bytes, reason: 'aborted', error };
  return { ok: false, bytes, reason: localSide ? 'local' : 'connection', error };
}

function armIdle(run: TransferRun): () => void {
  const socket = run.socket as Duplex & { setTimeout?: (ms: number, cb?: () => void) => void };
  if (typeof socket.setTimeout !== 'function' || run.idleTimeoutMs <= 0) return () => {};
  const onTimeout = () => socket.destroy(new Error(`data connection idle for ${run.idleTimeoutMs} ms`));
  socket.setTimeout(run.idleTimeoutMs, onTimeout);
  return () => socket.setTimeout?.(0);
}

/** Send a file from `start` (REST); `ascii` converts LF to CRLF. */
export async function sendFile(
  run: TransferRun,
  file: FileHandle,
  opts: { start: number; ascii: boolean },
): Promise<TransferOutcome> {
  let bytes = 0;
  const source = file.createReadStream({ start: opts.start, highWaterMark: FILE_CHUNK });
  source.on('data', (chunk: string | Buffer) => {
    bytes += chunk.length;
    run.onBytes(chunk.length);
  });
  let localError = false;
  source.once('error', () => {
    localError = true;
  });
  const disarm = armIdle(run);
  try {
    if (opts.ascii) await pipeline(source, toNetworkAscii(), run.socket, { signal: run.signal });
    else await pipeline(source, run.socket, { signal: run.signal });
    return { ok: true, bytes };
  } catch (err) {
    return classify(err, run.signal, bytes, localError);
  } finally {
    disarm();
  }
}

/** Uploads are written in blocks of at least this many bytes (one `writev` of socket chunks). */
export const WRITE_BLOCK = 1024 * 1024;
/** While a block is being written, reading pauses once this much more has arrived. */
export const WRITE_BUFFER = 8 * 1024 * 1024;

/**
 * Receive into an open file at `start` (undefined: append); `ascii` converts CRLF to LF.
 *
 * Not a stream pipeline, for two reasons. Speed: socket chunks (64 KiB each) are gathered and
 * written with one `fs.writev` per megabyte while the socket keeps reading into the next block,
 * so one disk write is always in flight and the per-chunk cost of a Writable is gone (this doubled
 * upload throughput). Resumability: when the connection breaks or ABOR arrives, everything already
 * received is still written out before the outcome is reported, so the partial file holds every
 * byte that arrived and `REST` + `STOR` or `APPE` can resume exactly there.
 */
export function receiveFile(
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
  let failure: { reason: 'aborted' | 'connection' | 'local'; error: Error } | undefined;
  const disarm = armIdle(run);

  return new Promise<TransferOutcome>((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      disarm();
      signal.removeEventListener('abort', onAbort);
      const outcome: TransferOutcome = failure ? { ok: false, bytes, ...failure } : { ok: true, bytes };
      file.close().then(
        () => resolve(outcome),
        () => resolve(outcome),
      );
    };
    const pump = () => {
      if (writing) return;
      if (queued === 0 || (!ended && queued < WRITE_BLOCK)) {
        if (ended) settle();
        return;
      }
      const batch = parts;
      const length = queued;
      parts = [];
      queued = 0;
      writing = true;
      writevAll(fd, batch, length, position, (err) => {
        writing = false;
        if (err) {
          failure = { reason: 'local', error: err };
          ended = true;
          parts = [];
          queued = 0;
          socket.destroy();
          settle();
          return;
        }
        if (position !== null) position += length;
        if (!ended && socket.isPaused() && queued < WRITE_BUFFER) socket.resume();
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
      if (data.length > 0) {
        parts.push(data);
        queued += data.length;
      }
      if (queued >= WRITE_BUFFER) socket.pause();
      pump();
    });
    socket.on('end', finish);
    socket.on('error', (err: Error) => stop('connection', err));
    socket.on('close', () => {
      if (!socket.readableEnded)
        stop('connection', new Error('data connection closed before the end of the data'));
    });
    if (signal.aborted) onAbort();
    else socket.resume();
  });
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

/** Send a prepared listing. */
export async function sendBuffer(run: TransferRun, data: Buffer): Promise<TransferOutcome> {
  const disarm = armIdle(run);
  try {
    await pipeline(Readable.from([data]), run.socket, { signal: run.signal });
    run.onBytes(data.length);
    return { ok: true, bytes: data.length };
  } catch (err) {
    return classify(err, run.signal, 0, false);
  } finally {
    disarm();
  }
}
