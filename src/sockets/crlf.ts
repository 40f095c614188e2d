/**
 * `-C/--crlf` (ncat -C): LF line endings from a terminal or a file become CRLF on the wire, so
 * SMTP, POP3 and HTTP can be spoken by hand. A lone LF becomes CRLF, an existing CRLF is left
 * alone, and a CR that ended the previous chunk counts for an LF that starts the next one (stdin
 * arrives in arbitrary pieces). Everything else passes byte for byte.
 */
import { Transform, type TransformCallback } from 'node:stream';

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from([CR, LF]);

/** The stateful converter: feed it every chunk in order. */
export class CrlfEncoder {
  /** the last byte seen was a CR (an LF at the start of the next chunk is already a CRLF) */
  private afterCr = false;

  /** Convert one chunk; returns the chunk itself when nothing needed converting. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    let lf = chunk.indexOf(LF);
    if (lf === -1) {
      this.afterCr = chunk[chunk.length - 1] === CR;
      return chunk;
    }
    const parts: Buffer[] = [];
    let start = 0;
    while (lf !== -1) {
      const preceded = lf === 0 ? this.afterCr : chunk[lf - 1] === CR;
      if (!preceded) {
        if (lf > start) parts.push(chunk.subarray(start, lf));
        parts.push(CRLF);
        start = lf + 1;
      }
      lf = chunk.indexOf(LF, lf + 1);
    }
    this.afterCr = chunk[chunk.length - 1] === CR;
    if (start === 0) return chunk;
    if (start < chunk.length) parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }
}

/** One-shot conversion of a whole buffer or string. */
export function lfToCrlf(data: Buffer | string): Buffer {
  return new CrlfEncoder().push(typeof data === 'string' ? Buffer.from(data) : data);
}

/** {@link CrlfEncoder} as a stream: `process.stdin.pipe(new CrlfTransform())`. */
export class CrlfTransform extends Transform {
  private readonly encoder = new CrlfEncoder();

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, this.encoder.push(chunk));
  }
}
