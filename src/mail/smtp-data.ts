/**
 * Checks on the DATA stream of the SMTP server: bare line endings (SMTP smuggling) and the size
 * limit, as a pure scanner plus an async generator that feeds Maildir delivery.
 *
 * Why we check at all: smtp-server ends DATA only at `<CR><LF>.<CR><LF>`, so `<LF>.<LF>`,
 * `<LF>.<CR><LF>` or `<CR>.<CR>` inside a message never split it into two on *our* side. But a
 * message stored with bare LFs or bare CRs is a loaded gun for whatever handles it next (a POP3
 * reader that splits on LF, a relay that treats `<LF>.<LF>` as the end) — the SEC Consult 2023 SMTP
 * smuggling attacks. RFC 5321 §2.3.8 forbids both outside the CRLF pair, so by default a message
 * containing either is refused as a whole with `550 5.6.0` (like Postfix's
 * `smtpd_forbid_bare_newline = reject`, sendmail's `srv_features` `g`/`u`); the `normalise` policy
 * instead rewrites each bare LF and bare CR into CRLF. Either way what lands in the Maildir has
 * only CRLF line endings.
 */
import type { Readable } from 'node:stream';
import { NetkitError } from '../core/errors.js';

export type BareLineEndingPolicy = 'reject' | 'normalise';

export type LineEndingViolation = 'bare-lf' | 'bare-cr';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from([CR, LF]);

/**
 * Incremental scanner for bare CR / bare LF across chunk boundaries. `push()` returns the first
 * violation found in the chunk (or undefined), `end()` the one a trailing CR leaves behind.
 */
export class LineEndingScanner {
  private pendingCR = false;

  push(chunk: Uint8Array): LineEndingViolation | undefined {
    const len = chunk.length;
    if (len === 0) return undefined;
    const afterCR = this.pendingCR;
    if (afterCR && chunk[0] !== LF) return 'bare-cr';
    // every LF must follow a CR …
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      if (i === 0 ? !afterCR : chunk[i - 1] !== CR) return 'bare-lf';
    }
    // … and every CR must precede an LF (a CR at the very end waits for the next chunk)
    this.pendingCR = false;
    for (let i = chunk.indexOf(CR); i !== -1; i = chunk.indexOf(CR, i + 1)) {
      if (i + 1 === len) this.pendingCR = true;
      else if (chunk[i + 1] !== LF) return 'bare-cr';
    }
    return undefined;
  }

  end(): LineEndingViolation | undefined {
    return this.pendingCR ? 'bare-cr' : undefined;
  }
}

/**
 * Incremental normaliser: every bare LF and every bare CR becomes CRLF, CRLF stays. Keeps one byte
 * of state (a CR at the end of a chunk) between calls.
 */
export class LineEndingNormaliser {
  private pendingCR = false;

  push(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    let start = 0;
    let i = 0;
    if (this.pendingCR) {
      // the CR that ended the previous chunk: CRLF either way
      this.pendingCR = false;
      parts.push(CRLF);
      if (chunk[0] === LF) i = start = 1;
    }
    while (i < chunk.length) {
      const b = chunk[i]!;
      if (b === CR) {
        if (i + 1 === chunk.length) {
          parts.push(chunk.subarray(start, i));
          this.pendingCR = true;
          start = chunk.length;
          break;
        }
        if (chunk[i + 1] === LF) {
          i += 2;
          continue;
        }
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      } else if (b === LF) {
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
      i++;
    }
    if (parts.length === 0) return chunk;
    if (start < chunk.length) parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** What a trailing CR becomes at the end of the message. */
  end(): Buffer {
    if (!this.pendingCR) return Buffer.alloc(0);
    this.pendingCR = false;
    return CRLF;
  }
}

/** Normalise a whole buffer (for tests and small messages). */
export function normaliseLineEndings(data: Buffer): Buffer {
  const n = new LineEndingNormaliser();
  return Buffer.concat([n.push(data), n.end()]);
}

/**
 * A refusal decided while reading DATA: the SMTP reply code, its enhanced status code and text.
 * smtp-server sends it once the client has finished the DATA phase.
 */
export class SmtpReplyError extends NetkitError {
  constructor(
    readonly responseCode: number,
    readonly enhancedCode: string,
    text: string,
  ) {
    super(responseCode >= 500 ? 'NETKIT_PROTOCOL' : 'NETKIT_IO', `${enhancedCode} ${text}`);
    this.name = 'SmtpReplyError';
  }
}

export function bareLineEndingError(v: LineEndingViolation): SmtpReplyError {
  return new SmtpReplyError(
    550,
    '5.6.0',
    v === 'bare-lf'
      ? 'Message refused: bare <LF> in DATA (lines must end with <CR><LF>)'
      : 'Message refused: bare <CR> in DATA (lines must end with <CR><LF>)',
  );
}

export function sizeExceededError(limit: number): SmtpReplyError {
  return new SmtpReplyError(552, '5.3.4', `Message exceeds the fixed maximum message size of ${limit} bytes`);
}

/** The parts of smtp-server's DATA stream we rely on. */
export interface DataStreamLike extends AsyncIterable<Buffer> {
  sizeExceeded?: boolean;
  iterator?(options?: { destroyOnReturn?: boolean }): AsyncIterableIterator<Buffer>;
}

function isReadable(s: object): s is Readable {
  const r = s as Partial<Readable>;
  return typeof r.on === 'function' && typeof r.off === 'function' && typeof r.pause === 'function';
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** Bytes queued before {@link readableChunks} pauses its stream. */
const QUEUE_BYTES = 64 * 1024;

/**
 * The chunks of a Readable, read from its `'data'` events. Why not the stream's own async iterator:
 * it costs a promise chain and end-of-stream bookkeeping per chunk, measured at 10-15 µs more per
 * 10 KB message than this, out of the few hundred µs the server spends on one. Like it with
 * `destroyOnReturn: false`, stopping early leaves the stream alive (undestroyed, possibly paused)
 * for the caller to drain. A stream that closes before `'end'` (the client vanished mid-DATA) or
 * emits `'error'` makes the iteration throw.
 */
export function readableChunks(stream: Readable): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Buffer> {
      const queue: Buffer[] = [];
      let queued = 0;
      let ended = false;
      let failure: { error: unknown } | undefined;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const onData = (chunk: Buffer): void => {
        queue.push(chunk);
        queued += chunk.length;
        if (queued >= QUEUE_BYTES) stream.pause();
        notify();
      };
      const onEnd = (): void => {
        ended = true;
        notify();
      };
      const onError = (error: unknown): void => {
        failure ??= { error };
        notify();
      };
      const onClose = (): void => {
        if (!ended) failure ??= { error: prematureClose() };
        notify();
      };
      const cleanup = (): void => {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('error', onError);
        stream.off('close', onClose);
      };
      if (stream.readableEnded) ended = true;
      else if (stream.destroyed) {
        // gone before we started reading: its 'error' and 'close' events are over
        onError(stream.errored ?? prematureClose());
      }
      stream.on('error', onError);
      stream.on('close', onClose);
      stream.on('end', onEnd);
      stream.on('data', onData);
      return {
        async next(): Promise<IteratorResult<Buffer>> {
          for (;;) {
            const chunk = queue.shift();
            if (chunk) {
              queued -= chunk.length;
              if (queued < QUEUE_BYTES && stream.isPaused() && !failure) stream.resume();
              return { done: false, value: chunk };
            }
            if (failure) {
              cleanup();
              throw failure.error;
            }
            if (ended) {
              cleanup();
              return { done: true, value: undefined };
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
        },
        async return(): Promise<IteratorResult<Buffer>> {
          cleanup();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** Chunks are gathered into writes of about this size: one write() for a typical message. */
export const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * The message as it should be written: `header` first, then the DATA chunks, checked on the fly
 * and gathered into writes of about {@link WRITE_BATCH_BYTES} (fewer system calls per message, and
 * never more than that held per message).
 * Throws {@link SmtpReplyError} on a bare CR/LF (policy `reject`) or when the size limit is passed;
 * any stream error (client gone mid-DATA) propagates, so a half message is never stored.
 * The source is not destroyed on an early exit (the caller drains it so the client gets its reply
 * after the final dot, not in the middle of DATA).
 */
export async function* checkedMessage(
  header: Buffer,
  stream: DataStreamLike,
  opts: { policy: BareLineEndingPolicy; maxBytes: number; batchBytes?: number },
): AsyncGenerator<Buffer> {
  const source: AsyncIterable<Buffer> = isReadable(stream)
    ? readableChunks(stream)
    : stream.iterator
      ? stream.iterator({ destroyOnReturn: false })
      : stream;
  const flushAt = opts.batchBytes ?? WRITE_BATCH_BYTES;
  const scanner = opts.policy === 'reject' ? new LineEndingScanner() : undefined;
  const normaliser = opts.policy === 'normalise' ? new LineEndingNormaliser() : undefined;
  const batch: Buffer[] = [header];
  let batched = header.length;
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    if (stream.sizeExceeded || bytes > opts.maxBytes) throw sizeExceededError(opts.maxBytes);
    let out = chunk;
    if (scanner) {
      const v = scanner.push(chunk);
      if (v) throw bareLineEndingError(v);
    } else out = normaliser!.push(chunk);
    if (out.length) {
      batch.push(out);
      batched += out.length;
    }
    if (batched >= flushAt) {
      yield Buffer.concat(batch, batched);
      batch.length = 0;
      batched = 0;
    }
  }
  const v = scanner?.end();
  if (v) throw bareLineEndingError(v);
  const tail = normaliser?.end();
  if (tail?.length) {
    batch.push(tail);
    batched += tail.length;
  }
  if (batched > 0) yield Buffer.concat(batch, batched);
}
