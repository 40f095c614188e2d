/**
 * `~/.netrc`, the login file of ftp(1), curl, lftp, wget and Python's `netrc` module:
 *
 *     machine ftp.example.org login alice password "s3cret word"
 *     default login anonymous password guest@
 *
 * Tokens are separated by any white space (newlines included), so an entry may span lines. A value
 * may be double-quoted with `\"` and `\\` escapes (as curl reads it). `#` starts a comment, and a
 * `macdef NAME` body runs to the next empty line. `account` is read and ignored.
 *
 * A netrc file holding a password that anyone but its owner may read is refused, as ftp(1) and
 * Python's `netrc` refuse it: the passwords in it are no longer secret.
 *
 * Written here because npm's netrc parsers are unmaintained and skip quoting and the mode check.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NetkitError } from './errors.js';

export interface NetrcEntry {
  /** undefined for the `default` entry */
  machine?: string;
  login?: string;
  password?: string;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      i++; // the closing quote
      tokens.push(value);
    } else {
      let value = '';
      while (i < text.length && !/\s/.test(text[i]!)) value += text[i++];
      if (value === 'macdef') {
        // skip the macro: its name, then every line up to an empty one
        const blank = text.slice(i).search(/\n[ \t]*\n|\n[ \t]*$/);
        i = blank === -1 ? text.length : i + blank + 1;
        continue;
      }
      tokens.push(value);
    }
  }
  return tokens;
}

/** Every `machine` and `default` entry, in file order. */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  const tokens = tokenize(text);
  let current: NetrcEntry | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === 'machine') {
      current = { machine: tokens[++i] ?? '' };
      entries.push(current);
    } else if (t === 'default') {
      current = {};
      entries.push(current);
    } else if (current && (t === 'login' || t === 'password' || t === 'account')) {
      const value = tokens[++i] ?? '';
      if (t !== 'account') current[t] = value;
    }
    // anything else is a token we do not know: skipped, as ftp(1) does
  }
  return entries;
}

/**
 * The entry for `host` (case-insensitive): the first `machine` entry for it — with `login` when one
 * is asked for — else `default`.
 */
export function findNetrc(entries: NetrcEntry[], host: string, login?: string): NetrcEntry | undefined {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  const fits = (e: NetrcEntry) => login === undefined || e.login === undefined || e.login === login;
  return (
    entries.find((e) => e.machine?.toLowerCase() === name && fits(e)) ??
    entries.find((e) => e.machine === undefined && fits(e))
  );
}

/** `$NETRC`, else `~/.netrc`. */
export function defaultNetrcPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.NETRC || path.join(os.homedir(), '.netrc');
}

export interface Netrc {
  file: string;
  entries: NetrcEntry[];
  /** group or others may read it */
  othersMayRead: boolean;
}

/** Read a netrc file. A missing default file is no entries; a missing file named explicitly is an error. */
export async function loadNetrc(file?: string): Promise<Netrc> {
  const where = file ?? defaultNetrcPath();
  let text: string;
  let mode: number;
  try {
    [text, mode] = await Promise.all([readFile(where, 'utf8'), stat(where).then((st) => st.mode)]);
  } catch (err) {
    if (file === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT')
      return { file: where, entries: [], othersMayRead: false };
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `cannot read netrc file ${where}: ${(err as Error).message}`,
    );
  }
  return {
    file: where,
    entries: parseNetrc(text),
    othersMayRead: process.platform !== 'win32' && (mode & 0o077) !== 0,
  };
}

/**
 * The login for `host` from a netrc file ({@link findNetrc}). Using a password from a file that
 * others may read is refused, as ftp(1) refuses it (chmod 600 fixes it); a file whose entry for
 * this host has no password, or has no entry, is fine whatever its mode.
 */
export async function netrcLogin(
  host: string,
  login?: string,
  file?: string,
): Promise<NetrcEntry | undefined> {
  const netrc = await loadNetrc(file);
  const entry = findNetrc(netrc.entries, host, login);
  if (entry?.password !== undefined && netrc.othersMayRead) {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `${netrc.file} holds the password for ${host} but others may read it: chmod 600 ${netrc.file}`,
    );
  }
  return entry;
}
