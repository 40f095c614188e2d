/**
 * How a stored message goes on the POP3 wire (RFC 1939 §3): every line ends in CRLF, a line that
 * starts with "." gets one more "." (byte-stuffing), and the response ends with ".\r\n".
 *
 * Maildir files are stored as received (CRLF from our SMTP server), but a file dropped in by hand
 * may use bare LF. So that the octet counts in STAT/LIST/RETR are exactly the bytes a client gets
 * back after un-stuffing, both the size scan and the encoder use one definition of the canonical
 * form: each LF not preceded by CR becomes CRLF, a last line without a line end gets CRLF, bare CR
 * is left alone (it can never form CRLF.CRLF with our line ends). The encoder is a small state
 * machine over chunks, so large messages stream in pieces without ever being held whole.
 */

const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const LF_ONLY = Buffer.from('\n');
const DOT_BUF = Buffer.from('.');
const NL_DOT = Buffer.from('\n.');

/** The end of a multi-line response. */
export const TERMINATOR = Buffer.from('.\r\n');

export interface MessageScan {
  /** octets of the canonical (CRLF) form: what LIST reports and RETR delivers after un-stuffing */
  size: number;
  /** every line, the last included, already ends in CRLF (no conversion needed) */
  crlf: boolean;
  /** some line starts with "." (needs stuffing) */
  dots: boolean;
}

/**
 * Incremental size scan, for files too large to read whole. Mirrors {@link Pop3Encoder} exactly:
 * the two must agree on every byte, and the tests check that they do.
 */
export class MessageScanner {
  private size = 0;
  private crlf = true;
  private dots = false;
  private lineStart = true;
  private prevCR = false;

  push(chunk: Buffer): this {
    if (chunk.length === 0) return this;
    if (this.lineStart && chunk[0] === DOT) this.dots = true;
    let pos = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) break;
      const crBefore = lf > 0 ? chunk[lf - 1] === CR : this.prevCR;
      if (!crBefore) {
        this.size += 1;
        this.crlf = false;
      }
      pos = lf + 1;
    }
    // "\n." found natively: much cheaper than looking at each line start in the loop above
    if (!this.dots && chunk.indexOf(NL_DOT) !== -1) this.dots = true;
    this.size += chunk.length;
    const last = chunk[chunk.length - 1];
    this.lineStart = last === LF;
    this.prevCR = last === CR;
    return this;
  }

  result(): MessageScan {
    if (this.lineStart) return { size: this.size, crlf: this.crlf, dots: this.dots };
    return { size: this.size + (this.prevCR ? 1 : 2), crlf: false, dots: this.dots };
  }
}

/** Scan a whole message: its canonical size and what the encoder will have to do. */
export function scanMessage(buf: Buffer): MessageScan {
  return new MessageScanner().push(buf).result();
}

/**
 * The wire form of a message held in memory — `prefix` (the status line), the content, stuffed
 * and canonical, and the terminator — as a list of buffers that share the file's memory: no copy,
 * they go out together in one writev. The common case (CRLF already) costs one native search per
 * stuffed line, not a look at every line.
 */
export function wireParts(buf: Buffer, scan: MessageScan = scanMessage(buf), prefix?: Buffer): Buffer[] {
  const parts: Buffer[] = prefix ? [prefix] : [];
  if (!scan.crlf) {
    const enc = new Pop3Encoder();
    parts.push(enc.push(buf), enc.end());
  } else if (!scan.dots) {
    parts.push(buf);
  } else {
    let pos = 0;
    if (buf[0] === DOT) parts.push(DOT_BUF);
    for (let at = buf.indexOf(NL_DOT); at !== -1; at = buf.indexOf(NL_DOT, pos)) {
      parts.push(buf.subarray(pos, at + 1), DOT_BUF);
      pos = at + 1;
    }
    parts.push(buf.subarray(pos));
  }
  parts.push(TERMINATOR);
  return parts;
}

/** {@link wireParts} as one buffer. */
export function encodeMessage(buf: Buffer, scan: MessageScan = scanMessage(buf), prefix?: Buffer): Buffer {
  return Buffer.concat(wireParts(buf, scan, prefix));
}

/**
 * Canonicalises and byte-stuffs a message given in any number of chunks. `push()` returns the
 * wire bytes for a chunk; `end()` returns what completes the last line (not the terminator).
 * `contentBytes` counts the canonical octets seen so far (stuffing excluded).
 */
export class Pop3Encoder {
  private lineStart = true;
  private prevCR = false;
  contentBytes = 0;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const out: Buffer[] = [];
    let pos = 0;
    if (this.lineStart && chunk[0] === DOT) out.push(DOT_BUF);
    for (;;) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        if (pos < chunk.length) {
          out.push(chunk.subarray(pos));
          this.contentBytes += chunk.length - pos;
          this.prevCR = chunk[chunk.length - 1] === CR;
          this.lineStart = false;
        }
        break;
      }
      const crBefore = lf > pos ? chunk[lf - 1] === CR : pos === 0 ? this.prevCR : false;
      if (lf > pos) out.push(chunk.subarray(pos, lf));
      out.push(crBefore ? LF_ONLY : CRLF);
      this.contentBytes += lf - pos + (crBefore ? 1 : 2);
      pos = lf + 1;
      this.prevCR = false;
      this.lineStart = true;
      if (pos < chunk.length && chunk[pos] === DOT) out.push(DOT_BUF);
      if (pos >= chunk.length) break;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Bytes that complete an unterminated last line (empty when the message ended with a line end). */
  end(): Buffer {
    if (this.lineStart) return Buffer.alloc(0);
    this.lineStart = true;
    const tail = this.prevCR ? LF_ONLY : CRLF;
    this.contentBytes += tail.length;
    this.prevCR = false;
    return tail;
  }
}

/**
 * Cuts a message for `TOP n m`: the header section, the blank line that ends it, and at most
 * `bodyLines` lines of the body. Feed chunks in order; each call returns the part to keep and
 * whether the cut point was reached (the caller can stop reading the file).
 */
export class TopCutter {
  private inHeaders = true;
  private atLineStart = true;
  /** the current line so far holds only a CR (an empty CRLF line in progress) */
  private onlyCR = false;
  private left: number;
  done = false;

  constructor(bodyLines: number) {
    this.left = bodyLines;
  }

  push(chunk: Buffer): { keep: Buffer; done: boolean } {
    if (this.done) return { keep: chunk.subarray(0, 0), done: true };
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inHeaders) {
        const lf = chunk.indexOf(LF, pos);
        if (lf === -1) {
          this.trackPartial(chunk, pos, chunk.length);
          return { keep: chunk, done: false };
        }
        const emptyLine =
          (this.atLineStart && (lf === pos || (lf === pos + 1 && chunk[pos] === CR))) ||
          (this.onlyCR && lf === pos);
        pos = lf + 1;
        this.atLineStart = true;
        this.onlyCR = false;
        if (emptyLine) {
          this.inHeaders = false;
          if (this.left === 0) return this.finish(chunk, pos);
        }
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) return { keep: chunk, done: false };
      pos = lf + 1;
      this.left -= 1;
      if (this.left === 0) return this.finish(chunk, pos);
    }
    return { keep: chunk, done: false };
  }

  private trackPartial(chunk: Buffer, from: number, to: number): void {
    if (from === to) return;
    if (this.atLineStart) this.onlyCR = to - from === 1 && chunk[from] === CR;
    else this.onlyCR = false;
    this.atLineStart = false;
  }

  private finish(chunk: Buffer, upto: number): { keep: Buffer; done: boolean } {
    this.done = true;
    return { keep: chunk.subarray(0, upto), done: true };
  }
}

/** TOP on an in-memory message: the kept part (not yet stuffed). */
export function topOf(buf: Buffer, bodyLines: number): Buffer {
  return new TopCutter(bodyLines).push(buf).keep;
}
