/**
 * Shell-style wildcards for `mget`, `mput`, `mdelete` and `ls` in `netkit ftp shell`, matched by
 * the client against one directory's names — a listing from the server or a local `readdir` —
 * rather than sent to the server: servers disagree on globbing in `NLST`/`LIST` arguments (some
 * do none, some take `-l` for a flag), and matching here gives the same answer everywhere. Our
 * server matches `NLST`/`LIST` wildcards with the same functions, for clients that send them.
 *
 * `*` any run of characters, `?` one character, `[abc]` `[a-z]` `[!x]` `[^x]` one of a set, `\x`
 * the character x itself (quoted characters arrive escaped, see shell-words.ts). As in sh, a name
 * starting with `.` is matched only by a pattern that starts with a literal `.`. Patterns match one
 * name, never across `/`. Pure functions, table-tested.
 */
import { usageError } from '../core/errors.js';

/** Does the pattern contain an unescaped wildcard (`*`, `?`, `[`)? */
export function hasGlob(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** The pattern with its escapes removed: the name it stands for when it has no wildcard. */
export function unescapeGlob(pattern: string): string {
  return pattern.replace(/\\(.?)/gsu, '$1');
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;
const escapeRegex = (s: string) => s.replace(REGEX_SPECIAL, '\\$&');
const escapeClass = (s: string) => s.replace(/[\\\]^[-]/g, '\\$&');

/** `[…]` starting at `pattern[start]` as a regex class, and the index after it; undefined if unclosed. */
function bracket(pattern: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true;
    i++;
  }
  const items: string[] = [];
  let first = true;
  const chars = [...pattern.slice(i)];
  let k = 0;
  const next = (): string | undefined => {
    let c = chars[k++];
    if (c === '\\' && k < chars.length) c = chars[k++];
    return c;
  };
  while (k < chars.length) {
    if (chars[k] === ']' && !first) {
      const consumed = chars.slice(0, k + 1).join('').length;
      const body = items.join('');
      // an empty set cannot occur (a leading ']' is a member), so the class is never `[]`
      return { source: negate ? `[^/${body}]` : `[${body}]`, end: i + consumed };
    }
    first = false;
    const lo = next()!;
    if (chars[k] === '-' && k + 1 < chars.length && chars[k + 1] !== ']') {
      k++;
      const hi = next()!;
      if (lo.codePointAt(0)! > hi.codePointAt(0)!)
        throw usageError(`bad pattern "${pattern}": range ${lo}-${hi} is backwards`);
      items.push(`${escapeClass(lo)}-${escapeClass(hi)}`);
    } else items.push(escapeClass(lo));
  }
  return undefined;
}

/** The pattern as an anchored regular expression over one name. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  const chars = pattern;
  for (let i = 0; i < chars.length; ) {
    const cp = chars.codePointAt(i)!;
    const c = String.fromCodePoint(cp);
    if (c === '\\') {
      const esc = chars.codePointAt(i + 1);
      if (esc === undefined) {
        source += escapeRegex('\\');
        i++;
      } else {
        const e = String.fromCodePoint(esc);
        source += escapeRegex(e);
        i += 1 + e.length;
      }
    } else if (c === '*') {
      source += '[^/]*';
      i++;
    } else if (c === '?') {
      source += '[^/]';
      i++;
    } else if (c === '[') {
      const b = bracket(chars, i);
      if (b) {
        source += b.source;
        i = b.end;
      } else {
        source += escapeRegex('[');
        i++;
      }
    } else {
      source += escapeRegex(c);
      i += c.length;
    }
  }
  return new RegExp(`^${source}$`, 'u');
}

/** The last pattern compiled: matching a listing tests one pattern against many names. */
let compiled: { pattern: string; re: RegExp } | undefined;

/** Does `name` match `pattern`? A leading `.` must be matched by a literal `.`. */
export function matchGlob(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.') && !pattern.startsWith('\\.')) return false;
  if (compiled?.pattern !== pattern) compiled = { pattern, re: globToRegExp(pattern) };
  return compiled.re.test(name);
}

/** Split a pattern at its last `/`: a literal directory part (no wildcards allowed) and the name pattern. */
export function splitGlobPath(pattern: string): { dir: string; name: string } {
  const i = pattern.lastIndexOf('/');
  if (i === -1) return { dir: '', name: pattern };
  const dir = pattern.slice(0, i);
  if (hasGlob(dir)) throw usageError(`wildcards are matched in the last path segment only: "${pattern}"`);
  return { dir: i === 0 ? '/' : unescapeGlob(dir), name: pattern.slice(i + 1) };
}
