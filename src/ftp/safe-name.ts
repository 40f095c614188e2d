/**
 * Names that come from an FTP server are untrusted input. Before a listing entry becomes a local
 * file, it must be one plain path segment: a hostile server answering MLSD/LIST with `../../x`,
 * `/etc/x`, `a\b` or a name carrying control characters must not make the client write outside
 * the directory it was told to use (the path-traversal class of bug that basic-ftp 5.2 fixed in
 * its own directory download, and that FTP clients have shipped many times before). Checked twice: per name ({@link unsafeNameReason}) and per final
 * path ({@link safeLocalPath}, which also proves the joined path is still under the target).
 *
 * Names shown on a terminal go through {@link displayName} so escape sequences in a listing
 * cannot drive the user's terminal.
 */
import path from 'node:path';
import { NetkitError } from '../core/errors.js';
import { terminalSafe } from '../core/terminal-safe.js';

/** Longest name accepted, in UTF-8 bytes (the common NAME_MAX). */
export const MAX_NAME_BYTES = 255;

/**
 * Why a server-supplied name may not be used as a local file name, or undefined when it is safe.
 * Rejects: empty, `.`, `..`, `/`, `\`, NUL and other control characters (C0, DEL, C1), names
 * longer than {@link MAX_NAME_BYTES}, and (for Windows-style hosts too) a drive prefix `X:`.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name === '') return 'empty name';
  if (name === '.' || name === '..') return `"${name}" is a directory reference`;
  if (name.includes('/')) return 'name contains "/"';
  if (name.includes('\\')) return 'name contains "\\"';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'name contains control characters';
  if (/^[A-Za-z]:/.test(name)) return 'name starts with a drive letter';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `name longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

export function isSafeName(name: string): boolean {
  return unsafeNameReason(name) === undefined;
}

/**
 * The local path for `segments` (names relative to `root`), or a NETKIT_PATH_OUTSIDE_ROOT error
 * when any segment is unsafe or the result would not lie strictly inside `root`.
 */
export function safeLocalPath(root: string, segments: readonly string[]): string {
  for (const seg of segments) {
    const why = unsafeNameReason(seg);
    if (why) throw new NetkitError('NETKIT_PATH_OUTSIDE_ROOT', `refusing ${displayName(seg)}: ${why}`);
  }
  const base = path.resolve(root);
  const full = path.resolve(base, ...segments);
  const rel = path.relative(base, full);
  if (segments.length > 0 && (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)))
    throw new NetkitError(
      'NETKIT_PATH_OUTSIDE_ROOT',
      `refusing ${displayName(segments.join('/'))}: outside ${root}`,
    );
  return full;
}

/**
 * A name made safe to print: control, bidi and zero-width characters as `\xNN` / `\uNNNN`
 * ({@link terminalSafe}), quoted when changed.
 */
export function displayName(name: string): string {
  const escaped = terminalSafe(name);
  return escaped === name ? name : `"${escaped}"`;
}
