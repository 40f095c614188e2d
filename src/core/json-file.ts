/**
 * JSON files that people edit by hand (`accounts.json`, `netkit.config.json`): a syntax error is
 * one line naming the file and the line, `FILE:4: not valid JSON (Expected double-quoted property
 * name)`, as a compiler would say it, never V8's "at position 35" with a quote of the input.
 */
import { NetkitError, type NetkitErrorCode } from './errors.js';

/** 1-based line and column of a character offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

/** Parse `text`, the content of `file`; a syntax error throws `code` naming file and line. */
export function parseJsonFile(text: string, file: string, code: NetkitErrorCode): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? `:${lineCol(text, Number(pos[1])).line}` : '';
    // V8's message repeats the position, or quotes the text around the error (`Unexpected token
    // 's', ..."assword": s3cret}" is not valid JSON`: a password, in a credentials file); keep its
    // first clause
    const what = msg
      .replace(/\s*(?:in JSON )?at position \d+.*$/s, '')
      .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '')
      .replace(/^.*?: /s, '');
    throw new NetkitError(code, `${file}${where}: not valid JSON (${what})`);
  }
}
