/**
 * TYPE A (ASCII) conversion: the network form of a text file ends lines with CRLF (RFC 959 §3.1.1.1),
 * the stored form with LF. Downloads turn bare LF into CRLF (an existing CRLF is left alone);
 * uploads turn CRLF into LF. Both are pure chunk functions carrying one byte of state across
 * chunk boundaries, wrapped as Transform streams so backpressure passes straight through.
 */
import { Transform } from 'node:stream';

const CR = 13;
const LF = 10;

/** Stored → network. `prevCR`: the previous chunk ended with CR. */
export function lfToCrlf(chunk: Buffer, prevCR: boolean): { out: Buffer; endsWithCR: boolean } {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === LF && !(i === 0 ? prevCR : chunk[i - 1] === CR)) extra++;
  }
  const endsWithCR = chunk.length > 0 ? chunk[chunk.length - 1] === CR : prevCR;
  if (extra === 0) return { out: chunk, endsWithCR };
  const out = Buffer.allocUnsafe(chunk.length + extra);
  let j = 0;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i]!;
    if (b === LF && !(i === 0 ? prevCR : chunk[i - 1] === CR)) out[j++] = CR;
    out[j++] = b;
  }
  return { out, endsWithCR };
}

/**
 * Network → stored. A CR at the end of a chunk is held back (`pendingCR`) until we know whether
 * an LF follows; `flush` releases it at the end of the stream.
 */
export function crlfToLf(chunk: Buffer, pendingCR: boolean): { out: Buffer; pendingCR: boolean } {
  const out = Buffer.allocUnsafe(chunk.length + 1);
  let j = 0;
  let i = 0;
  if (pendingCR) {
    if (chunk.length === 0) return { out: Buffer.alloc(0), pendingCR: true };
    if (chunk[0] !== LF) out[j++] = CR;
  }
  for (; i < chunk.length; i++) {
    const b = chunk[i]!;
    if (b === CR) {
      if (i === chunk.length - 1) return { out: out.subarray(0, j), pendingCR: true };
      if (chunk[i + 1] === LF) continue;
    }
    out[j++] = b;
  }
  return { out: out.subarray(0, j), pendingCR: false };
}

export function toNetworkAscii(): Transform {
  let prevCR = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const r = lfToCrlf(chunk, prevCR);
      prevCR = r.endsWithCR;
      cb(null, r.out);
    },
  });
}

export function fromNetworkAscii(): Transform {
  let pending = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const r = crlfToLf(chunk, pending);
      pending = r.pendingCR;
      cb(null, r.out);
    },
    flush(cb) {
      cb(null, pending ? Buffer.from([CR]) : undefined);
    },
  });
}
