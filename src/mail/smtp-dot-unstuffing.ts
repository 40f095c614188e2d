/**
 * Dot-unstuffing as RFC 5321 §4.5.2 has it: in DATA, a line that starts with "." and is not the
 * lone "." ending the message loses that first character, whatever follows it. smtp-server 3.21
 * removes it only in front of a second dot (`..x` → `.x`), so a line `.x` from a client that does
 * not stuff its dots (a hand-typed session, a script writing to a socket) was stored as `.x`, where
 * Postfix, Sendmail, aiosmtpd and smtp-sink all store `x`. A client that stuffs, as it must, sees no
 * difference: its lines that start with a dot always start with two.
 *
 * {@link unstuffEveryLeadingDot} puts the library's own `_feedDataStream` back with two conditions
 * widened (marked "RFC 5321 §4.5.2" below). Everything else, the end-of-data detection with its
 * guard against ending DATA early through TCP segmentation above all, is the library's code as is.
 */
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

const DOT = 0x2e;
const LF = 0x0a;
/** the end of the message text anywhere but at its very start */
const END_SEQUENCE = Buffer.from('\r\n.\r\n');
/** an empty message: the terminator as the first line */
const END_AT_START = Buffer.from('.\r\n');

type Callback = (err?: Error | null) => void;
type DataParser = Pick<
  SMTPStream,
  '_dataStream' | '_atDataStart' | '_lastBytes' | '_countDataBytes' | '_endDataMode' | '_feedDataStream'
>;

export function unstuffEveryLeadingDot(proto: DataParser): void {
  proto._feedDataStream = function feedDataStream(this: DataParser, input: Buffer, done: Callback): void {
    // only called in data mode, which always has a stream
    const dataStream = this._dataStream!;
    const kept = this._lastBytes;
    let chunk = kept ? Buffer.concat([kept, input], kept.length + input.length) : input;
    this._lastBytes = false;
    let len = chunk.length;
    // the first line is a lone dot: an empty message (not after an escape dot already removed)
    if (this._atDataStart && len >= 3 && chunk.subarray(0, 3).equals(END_AT_START)) {
      this._endDataMode(false, chunk.subarray(3), done);
      return;
    }
    // RFC 5321 §4.5.2: the first line loses its leading dot whatever follows (the library: "..")
    if (this._atDataStart && len >= 3 && chunk[0] === DOT) {
      chunk = chunk.subarray(1);
      len--;
      // the escape dot is consumed, so a dot now at the start is content, never a terminator
      this._atDataStart = false;
    }
    for (let i = 2; i < len - 2; i++) {
      if (chunk[i] !== DOT || chunk[i - 1] !== LF) continue;
      if (chunk.subarray(i - 2, i + 3).equals(END_SEQUENCE)) {
        // everything before the terminator is message text, the CRLF ending its last line included
        const text = chunk.subarray(0, i);
        this._countDataBytes(text.length);
        this._endDataMode(text, chunk.subarray(i + 3), done);
        return;
      }
      // RFC 5321 §4.5.2: not the terminator, so the dot is an escape, whatever follows (the library:
      // only a second dot). Emit what comes before it and go on after it.
      const before = chunk.subarray(0, i);
      this._lastBytes = false;
      this._countDataBytes(before.length);
      if (dataStream.writable) dataStream.write(before);
      const rest = chunk.subarray(i + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
    // keep the last bytes: a terminator or an escape dot may straddle the next chunk
    this._lastBytes = chunk.length < 4 ? chunk : chunk.subarray(chunk.length - 4);
    if (this._lastBytes.length >= chunk.length) {
      done();
      return;
    }
    const text = chunk.subarray(0, chunk.length - this._lastBytes.length);
    this._countDataBytes(text.length);
    if (!dataStream.writable || dataStream.write(text) || dataStream.destroyed) {
      done();
      return;
    }
    // wait for the consumer; a stream the application destroys never drains, it only closes
    const onDrain = (): void => {
      dataStream.removeListener('drain', onDrain);
      dataStream.removeListener('close', onDrain);
      done();
    };
    dataStream.once('drain', onDrain);
    dataStream.once('close', onDrain);
  };
}
