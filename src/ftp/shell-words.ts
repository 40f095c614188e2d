/**
 * Splitting a line typed at `netkit ftp shell` into words, as sh splits a simple command — and as
 * BSD ftp, lftp and sftp users expect: blanks separate words, `'…'` is literal, `"…"` is literal
 * except `\"` and `\\`, and a backslash outside quotes makes the next character literal
 * (`my\ file.txt`). There is no variable, command or tilde expansion: the words go to an FTP
 * server, and a shell that ran nothing locally is the point (`!cmd` is refused by the shell).
 *
 * A pure state machine over the characters, so the same code serves both the command line
 * (`parseShellLine`, which refuses an unterminated quote) and TAB completion (`lexShellLine`, which
 * reports the open quote and where the last word starts, so a completed name is quoted to match).
 *
 * Glob characters keep their meaning only where they were typed bare: each word also comes as a
 * `pattern` in which quoted or escaped `* ? [ ] \` are backslash-escaped, so `mget '*.txt'` fetches
 * a file named `*.txt` and `mget *.txt` every `.txt` file (see glob.ts).
 */
import { usageError } from '../core/errors.js';

export interface ShellWord {
  /** the word with quotes and escapes removed */
  value: string;
  /** the word as a glob pattern: characters that were quoted or escaped are backslash-escaped */
  pattern: string;
  /** offset of the word's first character (its opening quote, if any) in the line */
  start: number;
}

export interface ShellLex {
  words: ShellWord[];
  /** the quote still open at the end of the line (a line being typed) */
  openQuote?: "'" | '"';
  /** the line ends with a backslash that escapes nothing */
  danglingEscape: boolean;
  /** the line ends inside a word: no blank after the last one */
  inWord: boolean;
}

const GLOB_SPECIAL = /[\\*?[\]]/;

/** Lex a whole line without failing: an open quote or a dangling backslash is reported, not thrown. */
export function lexShellLine(line: string): ShellLex {
  const words: ShellWord[] = [];
  let cur: ShellWord | undefined;
  let quote: "'" | '"' | undefined;
  let danglingEscape = false;
  // a comment line, as in sftp batch files
  if (/^[ \t]*#/.test(line)) return { words, danglingEscape, inWord: false };
  const begin = (at: number): ShellWord => {
    cur ??= { value: '', pattern: '', start: at };
    return cur;
  };
  const add = (ch: string, literal: boolean, at: number): void => {
    const w = begin(at);
    w.value += ch;
    w.pattern += literal && GLOB_SPECIAL.test(ch) ? `\\${ch}` : ch;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else add(c, true, i);
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) add(line[++i]!, true, i);
      else add(c, true, i);
    } else if (c === ' ' || c === '\t') {
      if (cur) words.push(cur);
      cur = undefined;
    } else if (c === "'" || c === '"') {
      begin(i);
      quote = c;
    } else if (c === '\\') {
      if (i + 1 < line.length) add(line[++i]!, true, i - 1);
      else {
        begin(i);
        danglingEscape = true;
      }
    } else add(c, false, i);
  }
  const inWord = cur !== undefined;
  if (cur) words.push(cur);
  const out: ShellLex = { words, danglingEscape, inWord };
  if (quote) out.openQuote = quote;
  return out;
}

/** The words of a command line; an unterminated quote or a trailing backslash is a usage error. */
export function parseShellLine(line: string): ShellWord[] {
  const lex = lexShellLine(line);
  if (lex.openQuote) throw usageError(`unterminated ${lex.openQuote === "'" ? 'single' : 'double'} quote`);
  if (lex.danglingEscape) throw usageError('the line ends with a backslash that escapes nothing');
  return lex.words;
}

/**
 * A name written back as a word that lexes to exactly `text` (TAB completion). Inside an open
 * quote the name continues that quote; otherwise blanks, quotes, backslashes and glob characters
 * are backslash-escaped. `close` ends an open quote (a complete file name).
 */
export function quoteShellWord(text: string, openQuote?: "'" | '"', close = false): string {
  if (openQuote === "'") {
    // a ' cannot appear inside '…': end the quote, write \', open it again
    return `'${text.replace(/'/g, `'\\''`)}${close ? "'" : ''}`;
  }
  if (openQuote === '"') return `"${text.replace(/["\\]/g, '\\$&')}${close ? '"' : ''}`;
  return text.replace(/[\s'"\\*?[\]]/g, '\\$&');
}
