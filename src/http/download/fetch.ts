/**
 * One HTTP request's worth of work: fetch the rest of a segment with `Range` (checking that the
 * server sends exactly the bytes asked for), or the whole body in one stream. Each response is
 * validated before its first byte is written: 206 with a `Content-Range` whose start, end and
 * total match the request and the probe, a matching `Content-Length`, and then the received
 * length. Anything else becomes a typed outcome the orchestrator acts on — retry this segment,
 * fall back to one stream, restart because the remote file changed — so a lying or Range-ignoring
 * server is never spliced into a corrupt file.
 */
import type { Readable } from 'node:stream';
import { errorMessage, NetkitError, systemErrorWords } from '../../core/errors.js';
import { bodyTooLarge, checkDeclaredSize } from '../../core/size-limit.js';
import { terminalSafe } from '../../core/terminal-safe.js';
import { parseContentRange } from '../range.js';
import type { TransportResponse } from './node-transport.js';
import type { Segment } from './planner.js';
import {
  contentLength,
  discard,
  header,
  httpError,
  ifRangeValidator,
  RETRY_STATUS,
  type RequestContext,
  RetryableError,
  requestFollowing,
  retryableStatus,
  validators,
} from './probe.js';
import { type PartFile, PositionalSink } from './writer.js';

/**
 * A response that makes segmented downloading impossible or wrong:
 * `ignored` — 200 to a range request with the same validators (no Range support after all);
 * `mismatch` — 206 with the wrong Content-Range/length, or a different total (size lies);
 * `changed` — the remote file is not the one we started (If-Range answered 200, new ETag, 416).
 */
export class RangeProblem extends Error {
  readonly kind: 'ignored' | 'mismatch' | 'changed';
  constructor(kind: 'ignored' | 'mismatch' | 'changed', message: string) {
    super(message);
    this.name = 'RangeProblem';
    this.kind = kind;
  }
}

export { RetryableError } from './probe.js';

export interface LiveSegment extends Segment {
  /** the sink of the request in progress, for the control file's "written" offset */
  sink?: PositionalSink;
}

export interface FetchContext extends RequestContext {
  url: string;
  size: number;
  etag?: string;
  lastModified?: string;
  /** sent as If-Range on every range request */
  ifRange?: string;
  /**
   * the server never said it does ranges (no Accept-Ranges): a 200 then means "no Range support"
   * unless its validators changed — its length is no evidence, the single stream trusts the body
   */
  rangesAssumed?: boolean;
  part: PartFile;
  /** called for every byte count received (progress, rate) */
  onBytes: (n: number) => void;
  /** --max-filesize: a body of unknown length is stopped (NETKIT_TOO_LARGE) past this many bytes */
  maxBytes?: number;
}

/**
 * A network failure as one line that says what happened, with the system error code when there is
 * one: Node reports a connection cut mid-body as a bare "aborted" (code ECONNRESET), which as the
 * last word of a failed download told the user nothing (and is no proof of a reset: a server that
 * closes early gets the same). The words are core's (strerror's).
 */
export function failureWords(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  // one line, terminal-safe, and with the peer where Node names it ("connection refused by …")
  const message = errorMessage(err);
  if (typeof code !== 'string' || code === '') return message;
  const raw = err instanceof Error ? err.message : '';
  const words =
    code === 'ECONNRESET' && raw === 'socket hang up'
      ? 'the server closed the connection without answering'
      : // Node's word for a body cut short, by a close as much as by a reset: it cannot tell which
        code === 'ECONNRESET' && raw === 'aborted'
        ? 'the connection closed before the end of the body'
        : message === raw && /^E[A-Z0-9]+$/.test(code)
          ? terminalSafe(systemErrorWords(err))
          : message;
  return words.includes(code) ? words : `${words} (${code})`;
}

/** Classify any failure: our typed outcomes and disk errors pass through, the rest is retryable. */
export function classify(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return err;
  if (err instanceof RangeProblem || err instanceof RetryableError || err instanceof NetkitError) return err;
  return new RetryableError(failureWords(err), { cause: err });
}

/** A retryable failure mid-body, saying where the body stopped (the first byte not received). */
function atByte(err: unknown, position: number): unknown {
  if (!(err instanceof RetryableError)) return err;
  return new RetryableError(`${err.message} at byte ${position}`, {
    cause: err.cause ?? err,
    retryAfterMs: err.retryAfterMs,
    retryAfter: err.retryAfter,
  });
}

/** Fetch `[seg.pos, seg.end)`; resolves when the segment is complete or was cut short by a steal. */
export async function fetchRange(ctx: FetchContext, seg: LiveSegment): Promise<void> {
  const reqStart = seg.pos;
  const reqEnd = seg.end;
  const extra: Record<string, string> = { range: `bytes=${reqStart}-${reqEnd - 1}` };
  if (ctx.ifRange) extra['if-range'] = ctx.ifRange;
  let res: TransportResponse;
  try {
    ({ res } = await requestFollowing(ctx, ctx.url, 'GET', extra));
  } catch (err) {
    throw classify(err, ctx.signal);
  }
  const status = res.statusCode;
  if (status !== 206) {
    discard(res.body);
    if (status === 200) {
      const { etag, lastModified: lm } = validators(res.headers);
      const changed =
        (ctx.etag !== undefined && etag !== undefined && etag !== ctx.etag) ||
        (ctx.lastModified !== undefined && lm !== undefined && lm !== ctx.lastModified) ||
        (!ctx.rangesAssumed && (contentLength(res.headers) ?? ctx.size) !== ctx.size);
      throw changed
        ? new RangeProblem('changed', 'the remote file changed (If-Range answered 200 with new validators)')
        : new RangeProblem(
            'ignored',
            ctx.rangesAssumed
              ? 'the server does not do ranges after all (200 to a range request; it sent no Accept-Ranges)'
              : 'the server ignored Range (200 to a range request)',
          );
    }
    if (status === 416) throw new RangeProblem('changed', 'the server answered 416: the remote file shrank');
    if (RETRY_STATUS.has(status)) throw retryableStatus(status, res.headers);
    throw httpError(status, ctx.url);
  }
  checkPartial(res, { start: reqStart, end: reqEnd, total: ctx.size });
  await receive(ctx, res.body, seg, {
    cutShort: () => seg.end < reqEnd,
    complete: () => seg.pos >= seg.end,
  });
}

/**
 * The bytes a 206 must hold: from `start` to `end` (exclusive) of a file of `total` bytes. An
 * unknown `end` and `total` (a stream resumed without a size) accept whatever the 206 says, as long
 * as it starts at `start` and runs to the end of the file. `etag`, when known, must not change.
 */
interface Wanted {
  start: number;
  end?: number | undefined;
  total?: number | undefined;
  etag?: string | undefined;
}

/**
 * Check a 206 against what was asked before one byte of it is written: its Content-Range (start,
 * end and total), its Content-Length and its ETag. Anything else is a {@link RangeProblem} (the
 * body discarded). Returns the end (exclusive) of the bytes it brings.
 */
function checkPartial(res: TransportResponse, want: Wanted): number {
  const rawRange = header(res.headers, 'content-range');
  const cr = parseContentRange(rawRange);
  const shown =
    want.end === undefined ? `${want.start}- (to the end)` : `${want.start}-${want.end - 1}/${want.total}`;
  const cl = contentLength(res.headers);
  const { etag } = validators(res.headers);
  // the last byte it brings, when it starts where asked and ends where asked (or, unasked, at the total)
  const last =
    cr?.start === want.start &&
    cr.end !== undefined &&
    (want.end === undefined || cr.end === want.end - 1) &&
    // an unknown total (`/*`) cannot say the bytes run to the end: a short answer would pass as whole
    (want.total !== undefined ? cr.total === want.total : cr.total === cr.end + 1)
      ? cr.end
      : undefined;
  // the body is dropped before the error goes up: nobody reads it
  const refuse = (problem: RangeProblem): RangeProblem => {
    discard(res.body);
    return problem;
  };
  if (last === undefined) {
    const kind =
      cr?.total !== undefined && want.total !== undefined && cr.total !== want.total
        ? 'size changed or misreported'
        : 'wrong range';
    throw refuse(
      new RangeProblem('mismatch', `Content-Range "${rawRange ?? ''}" for bytes ${shown}: ${kind}`),
    );
  }
  if (cl !== undefined && cl !== last + 1 - want.start)
    throw refuse(new RangeProblem('mismatch', `Content-Length ${cl} for bytes ${shown}`));
  if (want.etag !== undefined && etag !== undefined && etag !== want.etag)
    throw refuse(new RangeProblem('changed', `the remote file changed (ETag ${want.etag} → ${etag})`));
  return last + 1;
}

/** Bytes a {@link HeldBody} reads ahead before it pauses the body (the socket then pushes back). */
const HOLD_BYTES = 1024 * 1024;

/**
 * A body read from the moment its response arrives, while the caller still awaits something
 * before it can write (the `.part` truncated, the sidecar saved). Unread it is not safe: Node's
 * client destroys a response whose connection closes before its end, and a destroyed stream drops
 * what it had buffered — a short body that came with its close was lost, and the failure said
 * "at byte 0" for bytes that had arrived. {@link receive} takes the bytes over.
 */
class HeldBody {
  private readonly body: Readable;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private paused = false;
  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= HOLD_BYTES && !this.paused) {
      this.paused = true;
      this.body.pause();
    }
  };

  constructor(body: Readable) {
    this.body = body;
    // a failure is read from `errored` once the bytes are taken (unheard, some streams throw it)
    body.on('error', () => {});
    body.on('data', this.onData);
  }

  /**
   * Stop holding and hand over the bytes read so far. A body this paused flows again from the
   * next tick: the caller attaches its listeners (or pauses it) before then, in the same tick.
   */
  take(): Buffer[] {
    this.body.off('data', this.onData);
    if (this.paused) this.body.resume();
    const chunks = this.chunks;
    this.chunks = [];
    return chunks;
  }
}

/**
 * Write a response body into the part file from `seg.pos` on, advancing `seg.pos`, up to
 * `seg.end` (see {@link pump} for the hooks), the bytes `held` read ahead first; a failed write
 * is thrown once the sink is released.
 */
export async function receive(
  ctx: Pick<FetchContext, 'part' | 'onBytes' | 'signal'>,
  body: Readable,
  seg: LiveSegment,
  hooks: Pick<PumpHooks, 'cutShort' | 'complete' | 'overflow'>,
  held?: HeldBody,
): Promise<void> {
  const sink = new PositionalSink(ctx.part, seg.pos);
  seg.sink = sink;
  try {
    await pump(
      body,
      sink,
      ctx,
      {
        room: () => seg.end - seg.pos,
        advance: (n) => {
          seg.pos += n;
        },
        position: () => seg.pos,
        ...hooks,
      },
      held,
    );
  } finally {
    await releaseSink(seg, sink);
  }
  if (sink.error) throw sink.error;
}

/**
 * The end of one request's sink: everything pushed is on its way to the disk (or failed). After a
 * failed write (ENOSPC…) `pos` counts bytes that never reached the file; once the sink is gone the
 * control file takes `pos` as written, and a resume would keep a hole of zeros — so it goes back.
 */
async function releaseSink(seg: LiveSegment, sink: PositionalSink): Promise<void> {
  await sink.flush().catch(() => {});
  if (sink.error) seg.pos = Math.min(seg.pos, sink.written);
  seg.sink = undefined;
}

interface PumpHooks {
  /** bytes still wanted from this response */
  room: () => number;
  /** record n received bytes */
  advance: (n: number) => void;
  /** the file offset of the next byte wanted, named in a failure's message */
  position: () => number;
  /** the wanted end moved before the response's end (stolen from) */
  cutShort: () => boolean;
  /** at the end of the body: is everything there? */
  complete: () => boolean;
  /** the error for more bytes than `room()` (default: the server sent more than it announced) */
  overflow?: () => Error;
}

/**
 * Move a response body into a sink. `room()` is how many more bytes are wanted; it shrinks when
 * the segment is stolen from (`cutShort()` is then true), and reaching it early ends the request.
 * A body that ends short is retryable; more bytes than the response promised is a `mismatch`.
 */
function pump(
  body: Readable,
  sink: PositionalSink,
  ctx: Pick<FetchContext, 'onBytes' | 'signal'>,
  { room, advance, position, cutShort, complete, overflow }: PumpHooks,
  held?: HeldBody,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let ended = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err !== undefined) {
        body.destroy();
        reject(atByte(classify(err, ctx.signal), position()));
      } else resolve();
    };
    const stopEarly = (): void => {
      finish();
      body.destroy();
    };
    // An abort (Ctrl-C) that came while the response was on its way — during fetchWhole's await of
    // onStart, say — destroyed the body before these listeners existed: its 'close' is gone, so
    // settle now rather than wait for events that will never come.
    if (ctx.signal.aborted) {
      finish(ctx.signal.reason ?? new Error('aborted'));
      return;
    }
    sink.onDrain = () => body.resume();
    sink.onError = (err) => finish(err);
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      const want = room();
      if (chunk.length > want) {
        if (want > 0) {
          advance(want);
          ctx.onBytes(want);
          sink.push(chunk.subarray(0, want));
        }
        if (cutShort()) stopEarly();
        else
          finish(
            overflow?.() ?? new RangeProblem('mismatch', 'the server sent more bytes than it announced'),
          );
        return;
      }
      advance(chunk.length);
      ctx.onBytes(chunk.length);
      if (!sink.push(chunk)) body.pause();
      // At the natural end 'end' follows (and the connection stays reusable); stolen → stop now.
      if (room() === 0 && cutShort()) stopEarly();
    };
    const onEnd = (): void => {
      ended = true;
      if (!complete()) finish(new RetryableError(`connection closed early (${room()} bytes missing)`));
      else finish();
    };
    // what was read ahead comes first; its 'end' or failure, if it came meanwhile, is not heard again
    for (const chunk of held?.take() ?? []) onData(chunk);
    if (settled) return;
    if (body.readableEnded) {
      onEnd();
      return;
    }
    // the body's own error (Node's "aborted", ECONNRESET) says more than that it is gone
    if (body.destroyed) {
      finish(body.errored ?? new RetryableError('connection closed mid-body'));
      return;
    }
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', (err) => finish(err));
    body.on('close', () => {
      if (!ended) finish(body.errored ?? new RetryableError('connection closed mid-body'));
    });
  });
}

/**
 * Where an interrupted single stream can go on from: bytes `[0, from)` of a body are in the part
 * file, and the server may send the rest (`Range: bytes=from-`, FTP `REST from`).
 */
export interface Resume {
  from: number;
  /** the body's length; undefined when the server never said (the 206 then says where it ends) */
  size?: number | undefined;
  /**
   * the body's validators: If-Range carries its strong ETag, else its Last-Modified (a changed
   * file then answers 200), and a 206 that carries another ETag is part of another version
   */
  etag?: string | undefined;
  lastModified?: string | undefined;
}

/**
 * The single-stream path: GET the whole body. `size` from the response's own Content-Length wins
 * over the probe's (a server may lie in HEAD); an unknown size streams until the end. Returns the
 * number of bytes in the file.
 *
 * With `resume`, the request asks only for the rest, guarded by If-Range as the segments are: a
 * 206 for exactly `from`…end continues the file where it stopped; a 200 (Range ignored, or the file
 * changed) is a whole new body, written from byte 0 after `onStart` (which truncates); a 416 that
 * says the body is `from` bytes long means nothing is missing. A 206 that does not fit, or another
 * 416, is a {@link RangeProblem}: the caller starts over without Range. A 206 that tells the length
 * of a body resumed without one (`Content-Range: bytes from-end/TOTAL`) goes to `onRest` first.
 */
export async function fetchWhole(
  ctx: Omit<FetchContext, 'size'>,
  onStart: (size: number | undefined, headers: TransportResponse['headers']) => Promise<void>,
  seg: LiveSegment,
  resume?: Resume,
  onRest?: (size: number) => Promise<void>,
): Promise<number> {
  const extra: Record<string, string> = {};
  if (resume) {
    extra.range = `bytes=${resume.from}-`;
    const ifRange = ifRangeValidator(resume);
    if (ifRange) extra['if-range'] = ifRange;
  }
  let res: TransportResponse;
  try {
    ({ res } = await requestFollowing(ctx, ctx.url, 'GET', extra));
  } catch (err) {
    throw classify(err, ctx.signal);
  }
  if (resume && res.statusCode === 206) return fetchRest(ctx, res, seg, resume, onRest);
  if (res.statusCode !== 200) {
    discard(res.body);
    if (resume && res.statusCode === 416) {
      // `Content-Range: bytes */N`: a body of N = `from` bytes is whole already (killed before the rename)
      // (and of the same version, when both sides name one)
      const total = parseContentRange(header(res.headers, 'content-range'))?.total;
      const { etag } = validators(res.headers);
      const same = resume.etag === undefined || etag === undefined || etag === resume.etag;
      if (total === resume.from && (resume.size ?? total) === total && same) {
        seg.pos = total;
        seg.end = total;
        return total;
      }
      throw new RangeProblem('changed', `the server answered 416 to Range: bytes=${resume.from}-`);
    }
    if (RETRY_STATUS.has(res.statusCode)) throw retryableStatus(res.statusCode, res.headers);
    throw httpError(res.statusCode, ctx.url);
  }
  const size = contentLength(res.headers);
  // before onStart's await: the progress timer reads the segment meanwhile
  seg.start = 0;
  seg.pos = 0;
  seg.end = size ?? ctx.maxBytes ?? Number.MAX_SAFE_INTEGER;
  // read on while onStart writes: the connection may close meanwhile
  const held = new HeldBody(res.body);
  try {
    if (ctx.maxBytes !== undefined) checkDeclaredSize(size, ctx.maxBytes);
    await onStart(size, res.headers);
  } catch (err) {
    discard(res.body);
    throw err;
  }
  await receive(
    ctx,
    res.body,
    seg,
    {
      cutShort: () => false,
      complete: () => size === undefined || seg.pos >= size,
      ...(size === undefined && ctx.maxBytes !== undefined
        ? { overflow: () => bodyTooLarge(ctx.maxBytes!) }
        : {}),
    },
    held,
  );
  if (size === undefined) seg.end = seg.pos;
  return seg.pos;
}

/** The 206 to a resumed single stream: checked as a segment's is, then written from `resume.from`. */
async function fetchRest(
  ctx: Pick<FetchContext, 'part' | 'onBytes' | 'signal' | 'maxBytes'>,
  res: TransportResponse,
  seg: LiveSegment,
  resume: Resume,
  onRest: ((size: number) => Promise<void>) | undefined,
): Promise<number> {
  const { from, size, etag } = resume;
  const end = checkPartial(res, { start: from, end: size, total: size, etag });
  // before onRest's await: the progress timer reads the segment meanwhile
  seg.pos = from;
  seg.end = end;
  // read on while onRest writes the sidecar: the connection may close meanwhile
  const held = new HeldBody(res.body);
  try {
    // the whole body's length, as a 200's is checked
    if (ctx.maxBytes !== undefined) checkDeclaredSize(end, ctx.maxBytes);
    if (size === undefined) await onRest?.(end);
  } catch (err) {
    discard(res.body);
    throw err;
  }
  await receive(ctx, res.body, seg, { cutShort: () => false, complete: () => seg.pos >= end }, held);
  return seg.pos;
}
