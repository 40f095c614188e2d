/**
 * The file server's jail: a request target becomes a real path inside the root, or the status to
 * answer with. The target is percent-decoded exactly once, to bytes (a name need not be UTF-8:
 * byte-path.ts), NUL is refused, dot-segments are
 * resolved (RFC 3986 §5.2.4) and one that would climb above the root is refused, and the real path
 * (symlinks resolved) must be the root or inside it. Kept apart from the server because it is the
 * part that must never be wrong, and it is table-tested on its own.
 */
import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { within } from '../core/datadir.js';
import {
  byteKey,
  displayPath,
  type FsPath,
  fsPath,
  joinFsPath,
  percentDecodeBytes,
  percentEncodeName,
} from './byte-path.js';

type Refusal = { ok: false; status: 400 | 403 | 404; reason: string };

/** `http://host` or `https://host` in front of an absolute-form request target. */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/** The authority of an absolute-form target (`http://host:1/a` → `host:1`, userinfo dropped), else undefined. */
export function absoluteFormAuthority(target: string): string | undefined {
  const m = ABSOLUTE_FORM.exec(target);
  if (!m) return undefined;
  const authority = m[0].slice(m[0].indexOf('//') + 2);
  return authority.slice(authority.lastIndexOf('@') + 1);
}

/** The status for a file-system error on a request path: permissions → 403, gone (a race) → 404. */
export function fsErrorStatus(err: unknown): 403 | 404 | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 403;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 404;
  return undefined;
}

/**
 * Map a request target to a real path inside the root, or an HTTP status to answer with.
 */
export async function resolveRequestPath(
  root: string,
  target: string,
  hidden: readonly string[] = [],
): Promise<
  | {
      ok: true;
      real: FsPath;
      /** the path's segments as text (bytes that are not UTF-8 show as U+FFFD) */
      segments: string[];
      /** `/a/b`: the segments percent-encoded from their bytes (`/` for the root) */
      canonical: string;
      trailingSlash: boolean;
      query: string;
    }
  | Refusal
> {
  // absolute-form (RFC 9112 §3.2.2), which a server must accept: only its path and query matter
  // here, taken raw so that they are decoded and normalised exactly like an origin-form target
  const authority = ABSOLUTE_FORM.exec(target);
  if (authority) target = `/${target.slice(authority[0].length).replace(/^\//, '')}`;
  if (!target.startsWith('/')) return { ok: false, status: 400, reason: 'request target is not a path' };
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  const decoded = percentDecodeBytes(rawPath);
  if (!decoded) return { ok: false, status: 400, reason: 'bad percent-encoding' };
  if (decoded.includes(0)) return { ok: false, status: 400, reason: 'NUL in path' };
  // Dot-segments are resolved as RFC 3986 §5.2.4 does (after merging empty segments, as nginx
  // does); a `..` with nothing left to remove would climb out of the root. Segments are split on
  // the decoded bytes, so `%2f` separates as `/` does.
  const parts = decoded.toString('latin1').split('/');
  const segments: FsPath[] = [];
  for (const s of parts) {
    if (s === '' || s === '.') continue;
    if (s !== '..') segments.push(fsPath(Buffer.from(s, 'latin1')));
    else if (segments.pop() === undefined) return { ok: false, status: 403, reason: 'path outside root' };
  }
  // `/a/`, `/a/.` and `/a/b/..` all name a directory
  const last = parts[parts.length - 1];
  const trailingSlash = last === '' || last === '.' || last === '..';
  const jailed = await jail(root, joinFsPath(root, ...segments), hidden);
  if (!jailed.ok) return jailed;
  return {
    ok: true,
    real: jailed.real,
    segments: segments.map(displayPath),
    canonical: `/${segments.map(percentEncodeName).join('/')}`,
    trailingSlash,
    query,
  };
}

/**
 * What a listing may say about `full` (an entry of a directory inside the root): its own `lstat`,
 * or for a symlink the `stat` of its target when that passes the jail; undefined when it cannot be
 * examined or leads outside, so a listing never shows the size or date of what the jail refuses.
 */
export async function statForListing(
  root: string,
  full: FsPath,
  hidden: readonly string[] = [],
): Promise<Stats | undefined> {
  const st = await lstat(full).catch(() => undefined);
  if (!st?.isSymbolicLink()) return st;
  const target = await jail(root, full, hidden);
  return target.ok ? await stat(target.real).catch(() => undefined) : undefined;
}

/**
 * Resolve symlinks and insist that the result is the root or inside it, and in none of the
 * `hidden` paths (real paths: the data directory, its secrets, the --cert/--key files): the check every path served or described goes through.
 */
export async function jail(
  root: string,
  candidate: FsPath,
  hidden: readonly string[] = [],
): Promise<{ ok: true; real: FsPath } | Refusal> {
  let real: FsPath;
  try {
    // as bytes: a path through a link may be UTF-8 and lead to one that is not, or the other way
    real = fsPath(await realpath(candidate, { encoding: 'buffer' }));
  } catch (err) {
    if (fsErrorStatus(err) === 403) return { ok: false, status: 403, reason: 'permission denied' };
    return { ok: false, status: 404, reason: 'not found' };
  }
  if (!withinPath(root, real)) return { ok: false, status: 403, reason: 'path outside root (symlink)' };
  if (hidden.some((dir) => withinPath(dir, real))) return { ok: false, status: 403, reason: 'hidden path' };
  return { ok: true, real };
}

/** {@link within} for a path that may be bytes: compared byte by byte. */
export function withinPath(dir: string, p: FsPath): boolean {
  return typeof p === 'string' ? within(dir, p) : within(byteKey(dir), byteKey(p));
}
