/**
 * The client side of byte ranges for `netkit http`, with curl's rules: `-r, --range` (what to
 * ask for) and `-C, --continue-at` (resuming a file, and what to make of the server's answer).
 * Pure functions, table-tested; the server side of ranges is range.ts.
 *
 * curl's answers to a resumed download (libcurl's http.c), which netkit follows:
 * - a response whose `Content-Range` starts at the offset asked for: the body is appended;
 * - `416 Range Not Satisfiable`: the file is already complete, success (its body is not written);
 * - a 2xx without such a `Content-Range` (the server ignored Range and sent everything): success
 *   when its length is the offset (complete already), otherwise an error, curl's "HTTP server
 *   doesn't seem to support byte ranges. Cannot resume." (curl exits 33, netkit 1) — nothing is
 *   written, never the whole body appended to the part already there;
 * - any other status (a 404, an unfollowed redirect): an error too, in place of appending an error
 *   page to the file.
 */
import { NetkitError } from '../core/errors.js';
import { parseContentRange } from './range.js';

export interface RangeOption {
  /** what follows `bytes=` in the Range header */
  value: string;
  /** curl's warning when it had to fix the range up */
  warning?: string;
}

const SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/;

/**
 * A `-r` range as curl takes it: `0-499`, `500-`, `-500` (the last 500 bytes), or a list of them
 * (`0-0,-1`); a bare number `N` means `N-`, with curl's warning. curl sends anything else with a
 * warning (a server ignores a range it cannot read and sends the whole body); netkit refuses it
 * before sending, as it does a range whose end comes before its start.
 */
export function parseRangeOption(text: string): RangeOption {
  if (/^\d+$/.test(text)) {
    checkSafe(text, text);
    const from = Number(text);
    return {
      value: `${from}-`,
      warning: `a range must include a dash (-): sending bytes=${from}- (from byte ${from} to the end), as curl does`,
    };
  }
  const specs = text.split(',');
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (!m)
      throw new NetkitError(
        'NETKIT_USAGE',
        `bad range ${JSON.stringify(text)} (expected FIRST-LAST, FIRST- or -SUFFIX, comma-separated: 0-499, 500-, -500, 0-0,-1)`,
      );
    for (const n of [m[1], m[2], m[3]]) if (n) checkSafe(n, text);
    if (m[1] !== undefined && m[2] !== '' && Number(m[2]) < Number(m[1]))
      throw new NetkitError(
        'NETKIT_USAGE',
        `bad range ${JSON.stringify(text)}: ${spec} ends before it starts`,
      );
  }
  return { value: text };
}

function checkSafe(n: string, text: string): void {
  if (!Number.isSafeInteger(Number(n)))
    throw new NetkitError('NETKIT_USAGE', `bad range ${JSON.stringify(text)}: ${n} is too large`);
}

/** `-C OFFSET` (bytes to skip) or `-C -` (`'end'`: the size of the file already there). */
export function parseContinueAt(text: string): number | 'end' {
  if (text === '-') return 'end';
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new NetkitError(
      'NETKIT_USAGE',
      `bad -C offset ${JSON.stringify(text)} (a number of bytes, or '-' for the size of the output file)`,
    );
  return Number(text);
}

/** The `Range` header value that resumes at `offset`. */
export function resumeRange(offset: number): string {
  return `bytes=${offset}-`;
}

export type ResumeVerdict =
  /** the body is the rest of the file: append it */
  | { action: 'append' }
  /** the file is complete already: write nothing, succeed */
  | { action: 'complete'; why: string }
  /** the body is not the rest of the file: write nothing, fail */
  | { action: 'refuse'; why: string };

/**
 * What to do with a response to a request resumed at `offset` (curl's rules: see the module
 * comment). `headers` are the response's, lower-case names.
 */
export function resumeVerdict(
  offset: number,
  status: number,
  headers: Record<string, string | string[] | undefined>,
): ResumeVerdict {
  const first = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (status === 416) return { action: 'complete', why: 'the server has no bytes past the offset (416)' };
  if (status < 200 || status > 299) return { action: 'refuse', why: `HTTP ${status}` };
  const range = parseContentRange(first('content-range'));
  if (range?.start !== undefined) {
    if (range.start === offset) return { action: 'append' };
    return {
      action: 'refuse',
      why: `the server sent bytes from ${range.start}, not from ${offset}`,
    };
  }
  const length = first('content-length');
  if (length !== undefined && /^\d+$/.test(length.trim()) && Number(length) === offset)
    return { action: 'complete', why: 'the whole file is as long as the part already there' };
  return { action: 'refuse', why: "the server doesn't seem to support byte ranges (it sent the whole file)" };
}
