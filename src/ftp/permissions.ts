/**
 * FTP permissions as pyftpdlib's letters, so an operator who knows pyftpdlib (or reads its docs)
 * can configure ours the same way:
 *
 * | letter | allows |
 * | --- | --- |
 * | `e` | change directory (CWD, CDUP) |
 * | `l` | list (LIST, NLST, MLSD, MLST, STAT path, SIZE, MDTM) |
 * | `r` | download (RETR) |
 * | `a` | append (APPE) |
 * | `d` | delete (DELE, RMD) |
 * | `f` | rename (RNFR, RNTO) |
 * | `m` | make directory (MKD) |
 * | `w` | store (STOR, STOU) |
 * | `M` | change mode (SITE CHMOD) |
 * | `T` | change modification time (MFMT) |
 *
 * Also here: which letter each command needs, the RFC 3659 `perm` fact derived from the letters,
 * and the reply a refusal gets (550, 553 or 532) — one table instead of checks scattered around.
 */
import { NetkitError } from '../core/errors.js';

export const PERMISSION_LETTERS = 'elradfmwMT';
export type Permission = 'e' | 'l' | 'r' | 'a' | 'd' | 'f' | 'm' | 'w' | 'M' | 'T';

/** An immutable set of permission letters. */
export class Permissions {
  private readonly set: ReadonlySet<Permission>;

  constructor(letters: string) {
    const set = new Set<Permission>();
    for (const ch of letters) {
      if (!PERMISSION_LETTERS.includes(ch)) {
        throw new NetkitError(
          'NETKIT_INVALID_INPUT',
          `unknown FTP permission "${ch}" in "${letters}" (use letters from ${PERMISSION_LETTERS})`,
        );
      }
      set.add(ch as Permission);
    }
    this.set = set;
  }

  has(p: Permission): boolean {
    return this.set.has(p);
  }

  /** Letters in canonical order, e.g. `elr`. */
  toString(): string {
    return [...PERMISSION_LETTERS].filter((c) => this.set.has(c as Permission)).join('');
  }
}

/** Permission letters for each account class (configurable through the server options). */
export interface ClassPermissions {
  /** real accounts, inside their home */
  real: string;
  /** guest accounts, inside the shared guest/ directory */
  guest: string;
  /** anonymous users, inside pub/ */
  anonymous: string;
  /** anonymous users, inside the incoming/ drop box (when anonymous upload is on) */
  incoming: string;
}

export const DEFAULT_PERMISSIONS: ClassPermissions = {
  real: 'elradfmwMT',
  guest: 'elrw',
  anonymous: 'elr',
  incoming: 'ew',
};

/** The letter a command needs (commands absent here need none beyond being logged in). */
export const COMMAND_PERMISSION: Readonly<Record<string, Permission>> = {
  CWD: 'e',
  XCWD: 'e',
  CDUP: 'e',
  XCUP: 'e',
  LIST: 'l',
  NLST: 'l',
  MLSD: 'l',
  MLST: 'l',
  STAT: 'l',
  SIZE: 'l',
  MDTM: 'l',
  RETR: 'r',
  APPE: 'a',
  DELE: 'd',
  RMD: 'd',
  XRMD: 'd',
  RNFR: 'f',
  RNTO: 'f',
  MKD: 'm',
  XMKD: 'm',
  STOR: 'w',
  STOU: 'w',
  CHMOD: 'M',
  MFMT: 'T',
};

const DESCRIPTION: Record<Permission, string> = {
  e: 'change into directories',
  l: 'list',
  r: 'download',
  a: 'append',
  d: 'delete',
  f: 'rename',
  m: 'create directories',
  w: 'upload',
  M: 'change modes',
  T: 'change modification times',
};

export interface Refusal {
  code: number;
  text: string;
}

/**
 * The reply for a command refused for lack of `permission`: 532 when an anonymous user tries to
 * store where only an account may (RFC 959: "Need account for storing files"), 550 otherwise.
 */
export function refusal(permission: Permission, accountClass: string, where: string): Refusal {
  if (accountClass === 'anonymous' && (permission === 'w' || permission === 'a')) {
    return {
      code: 532,
      text: `Need an account for storing files: anonymous users cannot ${DESCRIPTION[permission]} in ${where}`,
    };
  }
  return {
    code: 550,
    text: `Permission denied: ${accountClass} users cannot ${DESCRIPTION[permission]} in ${where}`,
  };
}

/** The reply when an upload would overwrite an existing file and the class may not. */
export function overwriteRefusal(name: string): Refusal {
  return { code: 553, text: `File name not allowed: ${name} already exists and may not be overwritten` };
}

/**
 * RFC 3659 `perm` fact for a file or directory: files `a d f r w`, directories `c d e f l m p`.
 * `noOverwrite` removes `w` from existing files (guests and the anonymous drop box).
 */
export function permFact(perms: Permissions, isDir: boolean, noOverwrite = false): string {
  let out = '';
  if (isDir) {
    if (perms.has('w')) out += 'c';
    if (perms.has('d')) out += 'd';
    if (perms.has('e')) out += 'e';
    if (perms.has('f')) out += 'f';
    if (perms.has('l')) out += 'l';
    if (perms.has('m')) out += 'm';
    if (perms.has('d')) out += 'p';
  } else {
    if (perms.has('a')) out += 'a';
    if (perms.has('d')) out += 'd';
    if (perms.has('f')) out += 'f';
    if (perms.has('r')) out += 'r';
    if (perms.has('w') && !noOverwrite) out += 'w';
  }
  return out;
}
