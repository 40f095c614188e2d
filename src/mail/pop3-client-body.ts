/**
 * Streamed POP3 bodies (`Pop3Client.retrStream`) and the flow control between them and the socket.
 *
 * A streamed body is a `Readable` fed from the reply reader. When its buffer is full (`push()` returns
 * false) the connection stops reading the socket, so the server's data waits in the kernel and TCP
 * slows the server down; it reads again once every body that pushed back has been read below its
 * high-water mark (or has ended and been read to the end, or was destroyed). Memory is then bounded
 * by the high-water marks and one socket chunk, whatever the size of the message — the `ws`
 * receiver's `if (!receiver.write(chunk)) socket.pause()`, with several bodies in flight.
 *
 * A body destroyed before its end (its reader gave up) takes nothing more: the rest of that message
 * is still read from the server, to keep the session in step, and dropped.
 */
import { Readable } from 'node:stream';

/** One streamed body: the reader side is `readable`; the connection calls the rest. */
export interface BodyStream {
  readonly readable: Readable;
  /** octets received for this body so far (dropped ones included) */
  readonly bytes: number;
  /** a piece of the body, in order */
  write(piece: Buffer): void;
  /** the body is complete */
  end(): void;
  /** the reply failed (`-ERR`, or the connection): the readable errors with `err` */
  fail(err: Error): void;
}

/** What the connection does when the bodies push back and when they have caught up. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export const DEFAULT_BODY_HIGH_WATER_MARK = 64 * 1024;

export class BodyFlow {
  /** bodies whose last push was refused and which have not been read since */
  private readonly behind = new Set<Readable>();

  constructor(private readonly control: FlowControl) {}

  /** True while the connection should not read: some body has more buffered than its reader took. */
  get paused(): boolean {
    return this.behind.size > 0;
  }

  open(highWaterMark = DEFAULT_BODY_HIGH_WATER_MARK): BodyStream {
    let bytes = 0;
    const readable: Readable = new Readable({
      highWaterMark,
      read: () => this.caughtUp(readable),
      destroy: (err, cb) => {
        this.caughtUp(readable);
        cb(err);
      },
    });
    // an ended body whose buffer was full is not read again (no read() after the end): its last
    // byte taken is the moment it has caught up
    readable.once('end', () => this.caughtUp(readable));
    return {
      readable,
      get bytes() {
        return bytes;
      },
      write: (piece) => {
        bytes += piece.length;
        if (readable.destroyed) return;
        if (!readable.push(piece)) this.fellBehind(readable);
      },
      end: () => {
        if (!readable.destroyed) readable.push(null);
      },
      fail: (err) => {
        readable.destroy(err);
      },
    };
  }

  private fellBehind(r: Readable): void {
    const wasPaused = this.paused;
    this.behind.add(r);
    if (!wasPaused) this.control.pause();
  }

  private caughtUp(r: Readable): void {
    if (this.behind.delete(r) && this.behind.size === 0) this.control.resume();
  }
}
