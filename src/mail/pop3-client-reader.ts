/**
 * POP3 reply parsing as a pure state machine: bytes in → complete replies out, no I/O.
 *
 * The client tells the reader what kind of reply each command it sent will get (`expect(true)` for a
 * command whose `+OK` is followed by a multi-line body: CAPA, LIST, UIDL without argument, TOP, RETR);
 * replies then come out strictly in that order, so pipelined commands need nothing more.
 *
 * Multi-line bodies (RFC 1939 §3) end with a line holding a single `.`; a line that begins with `.`
 * had that dot added by the server (byte-stuffing) and loses it here. The body is returned with its
 * line ends exactly as received (CRLF for any conforming server). Bodies are never re-scanned: each
 * byte is looked at once, whatever the chunking, so a 50 MB RETR costs linear time.
 *
 * A body can also be streamed instead of kept: `expect(true, sink)` hands it to `sink` piece by piece
 * (about one piece per chunk pushed, each delivered before `push()` returns) and the reply comes out
 * without `body`. That is how RETR of a message of any size runs in bounded memory.
 *
 * Limits: a status line longer than `maxLineLength` (RFC 2449 allows 512 octets; we accept 8 KiB) or a
 * kept body larger than `maxBodyBytes` (or than the limit given with `expect()`) is a protocol error,
 * as is anything that does not start with `+OK`, `-ERR` or a SASL continuation `+ `. A streamed body
 * has only the limit given with `expect()`: its consumer holds it.
 */
import { NetkitError } from '../core/errors.js';
import { terminalSafe } from '../core/terminal-safe.js';

export interface Pop3Reply {
  /** true for `+OK` (and for a SASL continuation) */
  ok: boolean;
  /** text after `+OK ` / `-ERR `, with the response code removed */
  text: string;
  /** RFC 2449 / RFC 3206 response code without brackets: `IN-USE`, `AUTH`, `SYS/TEMP`, `LOGIN-DELAY`… */
  code?: string;
  /** the status line as received (without CRLF) */
  line: string;
  /** `+ ` SASL continuation (RFC 5034) */
  continuation?: boolean;
  /**
   * body of a multi-line `+OK` reply, dot-unstuffed, line ends preserved, terminator removed
   * (absent when the body went to a sink)
   */
  body?: Buffer;
}

/**
 * Receives a streamed body: dot-unstuffed pieces in order, line ends as received. A piece may be a
 * view of the chunk pushed; it is never modified afterwards.
 */
export type Pop3BodySink = (piece: Buffer) => void;

export interface Pop3ReplyReaderOptions {
  /** longest status line accepted, default 8192 */
  maxLineLength?: number;
  /** largest multi-line body kept in memory, default 256 MiB (a streamed body has no limit) */
  maxBodyBytes?: number;
}

enum State {
  Status,
  LineStart,
  InLine,
  Dot,
  DotCr,
}

const LF = 10;
const CR = 13;
const DOT = 46;

/** Split `+OK [CODE] text` / `-ERR [CODE] text` into its parts. */
export function parseStatusLine(line: string): Pop3Reply {
  let ok: boolean;
  let rest: string;
  if (/^\+OK(?:\s|$)/i.test(line)) {
    ok = true;
    rest = line.slice(3);
  } else if (/^-ERR(?:\s|$)/i.test(line)) {
    ok = false;
    rest = line.slice(4);
  } else if (line === '+' || line.startsWith('+ ')) {
    return { ok: true, continuation: true, text: line.slice(2), line };
  } else {
    const shown = line.length > 80 ? `${line.slice(0, 80)}…` : line;
    throw new NetkitError('NETKIT_PROTOCOL', `not a POP3 reply: ${terminalSafe(JSON.stringify(shown))}`);
  }
  rest = rest.replace(/^\s+/, '');
  const reply: Pop3Reply = { ok, text: rest, line };
  const m = /^\[([^\]\s]+)\]\s*/.exec(rest);
  if (m) {
    reply.code = m[1]!.toUpperCase();
    reply.text = rest.slice(m[0].length);
  }
  return reply;
}

/**
 * The incremental reader. `expect()` once per command sent, `push()` every chunk received; each call
 * returns the replies it completed. Throws NetkitError NETKIT_PROTOCOL / NETKIT_TOO_LARGE on a
 * malformed stream; after that the reader (and the connection) must be discarded.
 */
export class Pop3ReplyReader {
  private readonly maxLine: number;
  private readonly maxBody: number;
  private expected: Array<{ multiline: boolean; sink: Pop3BodySink | undefined; maxBytes: number }> = [];
  private state = State.Status;
  private statusParts: Buffer[] = [];
  private statusSize = 0;
  private current: Pop3Reply | undefined;
  private bodyParts: Buffer[] = [];
  private bodySize = 0;
  /** where the body of the reply in progress goes, when it is streamed */
  private sink: Pop3BodySink | undefined;
  /** the most body bytes the reply in progress may have */
  private bodyLimit = Number.POSITIVE_INFINITY;
  /** offset, in the last chunk pushed, just after the last complete reply (0 if none) */
  private lastEnd = 0;

  constructor(opts: Pop3ReplyReaderOptions = {}) {
    this.maxLine = opts.maxLineLength ?? 8192;
    this.maxBody = opts.maxBodyBytes ?? 256 * 1024 * 1024;
  }

  /**
   * Announce the next reply: `multiline` when a `+OK` is followed by a body; with `sink`, that body is
   * streamed to it instead of kept (and `maxBodyBytes` does not apply). `maxBytes` caps this reply's
   * body, kept or streamed (a listing is far smaller than a message; a streamed message has its
   * listed size): a body that grows past it is NETKIT_TOO_LARGE.
   */
  expect(multiline: boolean, sink?: Pop3BodySink, maxBytes?: number): void {
    const limit = sink ? Number.POSITIVE_INFINITY : this.maxBody;
    this.expected.push({ multiline, sink, maxBytes: Math.min(limit, maxBytes ?? limit) });
  }

  /** Replies announced and not yet complete. */
  get pending(): number {
    return this.expected.length;
  }

  /** True while a reply is partly received (a close now would cut it). */
  get midReply(): boolean {
    return this.state !== State.Status || this.statusSize > 0;
  }

  /** Bytes of the body received so far for the reply in progress. */
  get bodyBytes(): number {
    return this.bodySize;
  }

  /** Forget all buffered state (after a TLS upgrade nothing from before may survive). */
  reset(): void {
    this.expected = [];
    this.state = State.Status;
    this.statusParts = [];
    this.statusSize = 0;
    this.current = undefined;
    this.bodyParts = [];
    this.bodySize = 0;
    this.sink = undefined;
    this.bodyLimit = Number.POSITIVE_INFINITY;
  }

  /** Offset in the last chunk pushed just after its last complete reply (0 when none completed). */
  get consumed(): number {
    return this.lastEnd;
  }

  push(chunk: Buffer): Pop3Reply[] {
    const out: Pop3Reply[] = [];
    let pos = 0;
    this.lastEnd = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.state) {
        case State.Status: {
          if (this.expected.length === 0) {
            const shown = chunk.subarray(pos, pos + 60).toString('latin1');
            throw new NetkitError(
              'NETKIT_PROTOCOL',
              `unexpected data from server: ${terminalSafe(JSON.stringify(shown))}`,
            );
          }
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? len : lf;
          if (this.statusSize + (end - pos) > this.maxLine + 1) {
            throw new NetkitError('NETKIT_PROTOCOL', `reply line longer than ${this.maxLine} bytes`);
          }
          this.statusParts.push(chunk.subarray(pos, end));
          this.statusSize += end - pos;
          if (lf === -1) return out;
          pos = lf + 1;
          let raw = Buffer.concat(this.statusParts);
          this.statusParts = [];
          this.statusSize = 0;
          if (raw.length > 0 && raw[raw.length - 1] === CR) raw = raw.subarray(0, raw.length - 1);
          const reply = parseStatusLine(raw.toString('utf8'));
          const next = this.expected.shift()!;
          if (reply.ok && next.multiline && !reply.continuation) {
            this.current = reply;
            this.sink = next.sink;
            this.bodyLimit = next.maxBytes;
            this.state = State.LineStart;
          } else {
            out.push(reply);
            this.lastEnd = pos;
          }
          break;
        }
        case State.LineStart: {
          if (chunk[pos] === DOT) {
            this.state = State.Dot;
            pos++;
          } else this.state = State.InLine;
          break;
        }
        case State.InLine: {
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? len : lf + 1;
          this.addBody(chunk.subarray(pos, end));
          pos = end;
          if (lf !== -1) this.state = State.LineStart;
          break;
        }
        case State.Dot: {
          const b = chunk[pos];
          if (b === CR) {
            this.state = State.DotCr;
            pos++;
          } else if (b === LF) {
            pos++;
            out.push(this.finishBody());
            this.lastEnd = pos;
          } else {
            // a byte-stuffed line: the dot is dropped, the rest of the line is body
            this.state = State.InLine;
          }
          break;
        }
        case State.DotCr: {
          if (chunk[pos] === LF) {
            pos++;
            out.push(this.finishBody());
            this.lastEnd = pos;
          } else {
            // ".\r" followed by more text: the stuffed line's content starts with CR
            this.addBody(Buffer.from([CR]));
            this.state = State.InLine;
          }
          break;
        }
      }
    }
    if (this.sink) this.flushSink();
    return out;
  }

  private addBody(part: Buffer): void {
    if (part.length === 0) return;
    this.bodySize += part.length;
    if (this.bodySize > this.bodyLimit) {
      throw new NetkitError('NETKIT_TOO_LARGE', `multi-line reply larger than ${this.bodyLimit} bytes`);
    }
    // Lines that follow each other in one chunk are one run of bytes: extend the last view rather
    // than keep one per line. A body of a million 1-byte lines once held a million Buffer objects
    // (gigabytes for a 256 MiB body); now it holds about one per chunk received. A streamed body
    // is gathered the same way until the end of the chunk, so its sink sees one piece per chunk.
    const last = this.bodyParts[this.bodyParts.length - 1];
    if (last && last.buffer === part.buffer && last.byteOffset + last.length === part.byteOffset)
      this.bodyParts[this.bodyParts.length - 1] = Buffer.from(
        last.buffer,
        last.byteOffset,
        last.length + part.length,
      );
    else this.bodyParts.push(part);
  }

  /** Hand the pieces gathered so far to the sink. */
  private flushSink(): void {
    const parts = this.bodyParts;
    this.bodyParts = [];
    for (const p of parts) this.sink!(p);
  }

  private finishBody(): Pop3Reply {
    const reply = this.current!;
    if (this.sink) {
      this.flushSink();
      this.sink = undefined;
    } else reply.body = Buffer.concat(this.bodyParts, this.bodySize);
    this.current = undefined;
    this.bodyParts = [];
    this.bodySize = 0;
    this.bodyLimit = Number.POSITIVE_INFINITY;
    this.state = State.Status;
    return reply;
  }
}

/**
 * One-shot form (`bytes → {replies, rest}`) for tests and tools: parse `input` given the kinds of
 * replies expected; `rest` holds the bytes after the last complete reply (a reply cut short).
 */
export function parsePop3Replies(
  input: Buffer,
  multiline: boolean[],
  opts?: Pop3ReplyReaderOptions,
): { replies: Pop3Reply[]; rest: Buffer } {
  const r = new Pop3ReplyReader(opts);
  for (const m of multiline) r.expect(m);
  const replies = r.push(input);
  return { replies, rest: input.subarray(r.consumed) };
}
