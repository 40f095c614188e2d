/**
 * A file-system failure in words that name the path the user gave and say what is wrong with it:
 * `cannot create directory photo.jpg/x/chat: photo.jpg is not a directory`, `cannot open q.txt: no
 * such directory: notes` — never Node's `ENOTDIR: not a directory, mkdir 'photo.jpg/x/chat'`.
 *
 * Node's errors carry `code`, `syscall` and `path` (and `dest` for rename and copy), which is enough
 * to choose the verb and the reason. Where the code alone is vague — ENOTDIR and ENOENT say that
 * some component of the path is wrong, not which — the path is looked at once, synchronously,
 * while the message is made (only ever on the way out of a failure).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { NetkitError, systemErrorWords } from './errors.js';
import { terminalSafe } from './terminal-safe.js';

/** A Node file-system error: the fields every `fs` failure carries. */
export interface FileSystemError extends Error {
  code: string;
  syscall: string;
  path: string;
  dest?: string;
}

/** The codes worded here; any other code with a path still gets its system words. */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for this file system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'resource busy',
  ENOTEMPTY: 'directory not empty',
  EISDIR: 'is a directory',
};

/** What the user was doing, by the system call that failed. */
const VERBS: Record<string, string> = {
  mkdir: 'cannot create directory',
  mkdtemp: 'cannot create directory',
  open: 'cannot open',
  read: 'cannot read',
  write: 'cannot write',
  fsync: 'cannot write',
  ftruncate: 'cannot write',
  truncate: 'cannot write',
  stat: 'cannot access',
  lstat: 'cannot access',
  access: 'cannot access',
  realpath: 'cannot access',
  scandir: 'cannot list',
  opendir: 'cannot list',
  unlink: 'cannot remove',
  rmdir: 'cannot remove',
  rm: 'cannot remove',
  chmod: 'cannot change the mode of',
  chown: 'cannot change the owner of',
  utime: 'cannot set the times of',
  symlink: 'cannot link',
  link: 'cannot link',
  copyfile: 'cannot copy',
  rename: 'cannot rename',
};

/** Whether `err` is a Node file-system error (a code, the system call and the path it was given). */
export function isFileSystemError(err: unknown): err is FileSystemError {
  const e = err as Partial<FileSystemError> | undefined;
  return (
    err instanceof Error &&
    typeof e?.code === 'string' &&
    /^E[A-Z]+$/.test(e.code) &&
    typeof e.syscall === 'string' &&
    // one word: a child process that cannot start (`spawn nc`) carries a path too, of no file
    /^[a-z]+$/.test(e.syscall) &&
    typeof e.path === 'string'
  );
}

/** What `p` is now: a directory, something else, or nothing (or nothing we may look at). */
function kind(p: string): 'dir' | 'other' | 'none' {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'other';
  } catch {
    return 'none';
  }
}

/** `p` and its ancestors, shortest first, as written (relative stays relative). */
function prefixes(p: string): string[] {
  const out: string[] = [];
  for (let at = path.normalize(p); ; ) {
    out.unshift(at);
    const up = path.dirname(at);
    if (up === at || up === '.') return out;
    at = up;
  }
}

/**
 * Why `err` happened, in words, with `shown` deciding how a path reads (the default: as given).
 * `no such directory: notes` when the folder the path lies in is missing, `photo.jpg is not a
 * directory` for the component in the way; undefined when `err` is no file-system error. An error
 * without a path (`readFile` of a directory fails in `read`) gets the words of its code alone.
 */
export function fileErrorReason(err: unknown, shown: (p: string) => string = (p) => p): string | undefined {
  const e = err as Partial<FileSystemError> | undefined;
  if (!(err instanceof Error) || typeof e?.code !== 'string' || typeof e.syscall !== 'string')
    return undefined;
  const p = e.path;
  switch (e.code) {
    case 'ENOTDIR': {
      const inTheWay = p === undefined ? undefined : prefixes(p).find((at) => kind(at) === 'other');
      return inTheWay === undefined ? systemErrorWords(err) : `${shown(inTheWay)} is not a directory`;
    }
    case 'ENOENT': {
      if (p === undefined) return systemErrorWords(err);
      const parent = path.dirname(path.normalize(p));
      if (parent !== p && kind(parent) === 'none') return `no such directory: ${shown(parent)}`;
      if (e.syscall === 'scandir' || e.syscall === 'opendir') return 'no such directory';
      // the folder is there and still refuses a new entry: /proc, /sys
      if (e.syscall === 'mkdir') return `${shown(parent)} does not take new directories`;
      return 'no such file or directory';
    }
    case 'EEXIST':
      return e.syscall === 'mkdir' && p !== undefined && kind(p) !== 'dir'
        ? 'it exists and is not a directory'
        : 'it already exists';
    default:
      return p === undefined ? REASONS[e.code] : (REASONS[e.code] ?? systemErrorWords(err));
  }
}

/**
 * The whole line for a file-system error, undefined for any other: `cannot create directory
 * photo.jpg/x/chat: photo.jpg is not a directory`. `shown` rewrites each path as it is printed
 * (the CLI writes it as the user typed it); `named` the path the call failed on, where the CLI
 * adds the option that gave it (`cannot open --quotes q.txt: …`).
 */
export function fileErrorLine(
  err: unknown,
  shown: (p: string) => string = (p) => p,
  named: (p: string) => string = shown,
): string | undefined {
  if (!isFileSystemError(err)) return undefined;
  // a rename told of its target alone (writeFileAtomic's temp file is nobody's business)
  const verb =
    err.syscall === 'rename' && err.dest === undefined
      ? 'cannot replace'
      : (VERBS[err.syscall] ?? `cannot ${err.syscall}`);
  const what = err.dest !== undefined ? `${named(err.path)} to ${named(err.dest)}` : named(err.path);
  return terminalSafe(`${verb} ${what}: ${fileErrorReason(err, shown)}`);
}

/**
 * A message that quotes a file-system error's own text (`cannot read x: ENOENT: no such file or
 * directory, open 'x'`, a wrapper's `${err.message}`) with that text replaced by the reason in
 * words; undefined when `err` quotes no such cause.
 */
export function rewordQuotedCause(err: unknown, shown?: (p: string) => string): string | undefined {
  if (!(err instanceof Error)) return undefined;
  for (let c = err.cause, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    if (!isFileSystemError(c)) continue;
    const raw = c.message.split(/\r?\n/)[0] ?? '';
    if (raw === '' || !err.message.includes(raw)) return undefined;
    return terminalSafe(
      err.message
        .split(raw)
        .join(fileErrorReason(c, shown) ?? raw)
        .split(/\r?\n/)[0] ?? '',
    );
  }
  return undefined;
}

/**
 * A NetkitError for a file-system failure while `doing` something with `file` (`cannot read
 * quotes file q.txt: no such file or directory`), keeping Node's error as the cause. A missing
 * file is NETKIT_NOT_FOUND, anything else NETKIT_IO.
 */
export function fileError(err: unknown, doing: string): NetkitError {
  const reason = fileErrorReason(err) ?? systemErrorWords(err);
  return new NetkitError(
    (err as { code?: unknown } | undefined)?.code === 'ENOENT' ? 'NETKIT_NOT_FOUND' : 'NETKIT_IO',
    terminalSafe(`${doing}: ${reason}`),
    { cause: err },
  );
}
