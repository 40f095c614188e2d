/**
 * A watch over what a server sends on the control connection, for {@link FtpClient}, on top of
 * basic-ftp's own bound of 64 KiB for one reply.
 *
 * basic-ftp drops text that is no reply — a line that does not start with a code, the rest of a
 * line that never ends — and its timeout is an idle timeout that any byte restarts. Memory stays
 * bounded, but a server that streams junk, or one endless line, kept the command waiting forever
 * with no error at all. So:
 * - a line longer than that same 64 KiB without a line end is an error (NETKIT_LINE_TOO_LONG);
 * - while a command waits for its reply (basic-ftp's control timeout armed), text that completes
 *   no reply line counts as silence: after the control timeout it ends like a silent server
 *   (NETKIT_TIMEOUT). curl's FTP response timeout likewise counts from the command, not from the
 *   last byte.
 */

/** basic-ftp's bound for one control reply (its `maxControlResponseLength`), in characters. */
export const MAX_REPLY_LINE = 64 * 1024;

/** A reply line: a code alone, or a code and a space (RFC 959 4.2; basic-ftp's `isSingleLine`). */
const REPLY_LINE = /^\d{3}(?: |\r?$)/;

/** The error for a reply line over {@link MAX_REPLY_LINE}; its `code` is NETKIT_LINE_TOO_LONG. */
export class ReplyLineTooLong extends Error {
  readonly code = 'NETKIT_LINE_TOO_LONG';
}

export class ControlWatch {
  /** characters of the current line so far, and its first few (enough to tell a reply line) */
  private length = 0;
  private head = '';
  /** when text that completed no reply started arriving while a command waited */
  private junkSince: number | undefined;

  constructor(private readonly maxLine = MAX_REPLY_LINE) {}

  /**
   * One chunk of control-connection text. `waitMs` is the control timeout armed now (0: no
   * command waits, or a data connection keeps the time during a transfer). Returns the error to
   * close the connection with, or nothing.
   */
  feed(chunk: string, now: number, waitMs: number): Error | undefined {
    let replied = false;
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const line = this.head + chunk.slice(start, Math.min(nl, start + 4));
      if (REPLY_LINE.test(line.slice(0, 4))) replied = true;
      this.length = 0;
      this.head = '';
      start = nl + 1;
    }
    const rest = chunk.length - start;
    this.length += rest;
    if (this.head.length < 4) this.head += chunk.slice(start, start + 4 - this.head.length);
    if (this.length > this.maxLine)
      return new ReplyLineTooLong(
        `the server sent a line of more than ${this.maxLine / 1024} KiB on the control connection`,
      );
    if (replied || waitMs <= 0) {
      this.junkSince = undefined;
      return undefined;
    }
    this.junkSince ??= now;
    if (now - this.junkSince < waitMs) return undefined;
    // basic-ftp's own words for a silent server, so it is reported the same way
    return new Error(`Timeout (control socket: ${waitMs} ms of text that is no FTP reply)`);
  }
}
