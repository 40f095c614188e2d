/**
 * The status to answer a request node:http could not parse with (its 'clientError' event): llhttp's
 * error code, refined by the line the parser stopped in.
 */

/** What node:http gives a 'clientError' listener about a request llhttp could not parse. */
export interface ParseError extends Error {
  code?: string;
  /** where in rawPacket the parser stopped */
  bytesParsed?: number;
  /** the chunk being parsed: not always the whole request */
  rawPacket?: Buffer;
}

/**
 * The parser's complaints (HPE_*, a request timeout) are about the request and get an answer; a
 * socket error (ECONNRESET, or ECANCELED when a TLS connection is cut) is about the connection.
 */
export function isParseError(err: ParseError): boolean {
  return err.code === undefined || err.code.startsWith('HPE_') || err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
}

const TCHAR = "[!#$%&'*+.^_`|~0-9A-Za-z-]";
const REQUEST_LINE_START = new RegExp(`^${TCHAR}+ `);
const REQUEST_LINE = new RegExp(`^${TCHAR}+ \\S+ HTTP/\\d\\.\\d$`);

/**
 * The status for a request node:http could not parse, refined from llhttp's code by the line the
 * parser stopped in. Headers too large in a line that starts like a request line: the target alone
 * is too long → 414, otherwise 431. An unknown method in a well-formed request line → 501, while
 * garbage stays 400. When that line began in an earlier chunk it cannot be seen: 431 / 400 then.
 */
export function clientErrorStatus(err: ParseError): number {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    case 'HPE_HEADER_OVERFLOW':
      return REQUEST_LINE_START.test(stoppedLine(err, false)) ? 414 : 431;
    case 'HPE_INVALID_METHOD':
      return REQUEST_LINE.test(stoppedLine(err, true)) ? 501 : 400;
    default:
      return 400;
  }
}

/** The line of rawPacket the parser stopped in, from its start up to that point or (`whole`) to its end. */
function stoppedLine(err: ParseError, whole: boolean): string {
  const raw = err.rawPacket;
  if (!raw) return '';
  const at = Math.min(err.bytesParsed ?? 0, raw.length);
  const start = at === 0 ? 0 : raw.lastIndexOf(0x0a, at - 1) + 1;
  const lf = raw.indexOf(0x0a, at);
  const end = !whole ? at : lf === -1 ? raw.length : lf;
  return raw.subarray(start, end).toString('latin1').replace(/\r$/, '');
}
