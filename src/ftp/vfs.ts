/**
 * The FTP path jail: every path a client names is resolved here, and nothing else in the server
 * touches the file system with a client-supplied name.
 *
 * Two steps, both deliberately strict (ftp-srv's CVE-2020-26299 was a backslash slipping through):
 * 1. {@link resolveVirtualPath} — pure: the client's argument against the session's cwd in the
 *    virtual namespace. NUL and control bytes, backslashes, invalid UTF-8, Windows drive prefixes
 *    and any `..` that climbs above `/` are refused (not clamped), so a traversal attempt is an
 *    error the client sees as 550 and the trace shows. FTP paths are never percent-decoded, so
 *    `%2e%2e` is just a name (RFC 959 pathnames are opaque) and `100%ff.txt` stays reachable.
 * 2. {@link VirtualFs.realPath} — the virtual path through the account's mount table to a real
 *    path, then `realpath()` of it (or of its parent when creating, deleting or renaming), which
 *    must still lie inside the mount's real root: a symlink that points outside is refused the
 *    same way.
 *
 * A mount table lets one account see several real directories in one tree (anonymous users see
 * `/pub` and `/incoming`, each with its own permissions); directories above mount points are
 * synthetic and list only the mounts.
 *
 * Hidden paths (the server's data directory: the accounts file with its password hashes, the
 * development TLS key; and the `--cert`/`--key` files) are refused as if they did not exist
 * (ENOENT, so 550 "No such file or directory") wherever a real path lands in one — by name,
 * through `..`, through a symbolic link — and listings leave them out. Which of them count in a
 * mount is `hiddenUnder` in core/datadir.ts, the rule `http serve` follows too, so that the two
 * servers cannot disagree: the default tree (`DATA/ftp/...`) is served although it lies inside
 * the data directory, a mount whose root is or lies inside a hidden path serves nothing.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { hiddenUnder, type ServerSecrets, within, withinAny } from '../core/datadir.js';
import { NetkitError } from '../core/errors.js';
import type { Permissions } from './permissions.js';

export interface Mount {
  /** virtual path: `/` or `/pub` */
  path: string;
  /** real absolute directory */
  dir: string;
  perms: Permissions;
  /** uploads may not replace an existing file (guests, the anonymous drop box) */
  noOverwrite?: boolean;
}

export function outsideRoot(arg: string, why: string): NetkitError {
  return new NetkitError('NETKIT_PATH_OUTSIDE_ROOT', `${JSON.stringify(arg)}: ${why}`);
}

/**
 * Resolve a client path against `cwd` (both virtual, `cwd` absolute and normal). Returns the
 * normal absolute virtual path (`/`, `/a/b`). Throws `NETKIT_PATH_OUTSIDE_ROOT` for every escape
 * or trick; an empty argument means `cwd`.
 */
export function resolveVirtualPath(cwd: string, arg: string): string {
  if (arg.includes('\u0000')) throw outsideRoot(arg, 'NUL byte in path');
  if (/[\u0001-\u001f\u007f]/.test(arg)) throw outsideRoot(arg, 'control character in path');
  if (arg.includes('\\')) throw outsideRoot(arg, 'backslash in path');
  if (arg.includes('\ufffd')) throw outsideRoot(arg, 'invalid UTF-8 in path');
  if (/^[a-z]:/i.test(arg)) throw outsideRoot(arg, 'drive letter in path');
  const full = arg.startsWith('/') ? arg : `${cwd}/${arg}`;
  const stack: string[] = [];
  for (const seg of full.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) throw outsideRoot(arg, 'climbs above the root');
      stack.pop();
      continue;
    }
    stack.push(seg);
  }
  return `/${stack.join('/')}`;
}

/** Where a virtual path lands: inside a mount, or on a synthetic directory above mounts. */
export type Location =
  | { kind: 'mount'; mount: Mount; real: string; rel: string }
  | { kind: 'synthetic'; children: string[] };

/** Is virtual path `child` the same as or below `parent` (both normal, absolute)? */
export function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
}

export class VirtualFs {
  readonly mounts: readonly Mount[];
  /** what is never served (see the file comment) */
  readonly hidden: ServerSecrets | undefined;
  /** created on first use: a session that never touches a file keeps no Map */
  private realRoots: Map<Mount, Promise<string>> | undefined;
  /** per mount, made once per session (see {@link scope}) */
  private scopes: Map<Mount, HiddenScope> | undefined;

  constructor(mounts: readonly Mount[], hidden?: ServerSecrets) {
    this.hidden = hidden;
    // deepest first, so /pub/x finds /pub before /; a table already in that order (the shared
    // anonymous one) is kept as it is: sorting allocates, and this runs on every login
    const ordered = mounts.every((m, i) => i === 0 || mounts[i - 1]!.path.length >= m.path.length);
    this.mounts = ordered ? mounts : [...mounts].sort((a, b) => b.path.length - a.path.length);
  }

  /** See {@link resolveVirtualPath}. */
  resolve(cwd: string, arg: string): string {
    return resolveVirtualPath(cwd, arg);
  }

  /** The mount (and naive real path) or synthetic directory for a normal virtual path. */
  locate(vpath: string): Location | undefined {
    for (const mount of this.mounts) {
      if (isInside(vpath, mount.path)) {
        const rel = vpath.slice(mount.path.length).replace(/^\//, '');
        return { kind: 'mount', mount, rel, real: rel ? path.join(mount.dir, ...rel.split('/')) : mount.dir };
      }
    }
    const children = new Set<string>();
    for (const mount of this.mounts) {
      if (isInside(mount.path, vpath)) {
        const rest = mount.path.slice(vpath === '/' ? 1 : vpath.length + 1);
        const first = rest.split('/')[0];
        if (first) children.add(first);
      }
    }
    if (children.size === 0) return undefined;
    return { kind: 'synthetic', children: [...children].sort() };
  }

  /** The mount a virtual path is in (undefined on synthetic directories). */
  mountOf(vpath: string): Mount | undefined {
    const loc = this.locate(vpath);
    return loc?.kind === 'mount' ? loc.mount : undefined;
  }

  /** The mount's root directory with symbolic links resolved (cached). */
  realRoot(mount: Mount): Promise<string> {
    const roots = (this.realRoots ??= new Map());
    let p = roots.get(mount);
    if (!p) {
      p = realpath(mount.dir);
      p.catch(() => roots.delete(mount));
      roots.set(mount, p);
    }
    return p;
  }

  /**
   * The mount's real root with the hidden paths that count in it ({@link hiddenUnder}) and the
   * tests made from them. Made once per mount and session (again only should the root's real path
   * change), not on every command or listing: a listing runs `visible` on each entry, and that
   * must cost a few string comparisons, never a `realpath`.
   */
  private async scope(mount: Mount): Promise<HiddenScope> {
    const root = await this.realRoot(mount);
    const known = this.scopes?.get(mount);
    if (known?.root === root) return known;
    const hidden = this.hidden ? hiddenUnder(root, this.hidden) : [];
    const inRoot = withinAny([root]);
    const hides = withinAny(hidden);
    const made: HiddenScope = {
      root,
      hidden,
      hides,
      visible: hidden.length === 0 ? inRoot : (real) => inRoot(real) && !hides(real),
    };
    (this.scopes ??= new Map()).set(mount, made);
    return made;
  }

  /**
   * Which real paths a listing of this mount may show: inside its root and in no hidden path
   * (for a symbolic link, the real path of its target).
   */
  async visible(mount: Mount): Promise<(real: string) => boolean> {
    return (await this.scope(mount)).visible;
  }

  /**
   * Does this real path hold a hidden path (is it one, or one of its ancestors)? Renaming,
   * removing or changing the permissions of such a directory would move the hidden one, fail for
   * a reason the client cannot see (it lists as empty) or lock the server out of it, so callers
   * refuse that.
   */
  async holdsHidden(mount: Mount, real: string): Promise<boolean> {
    return (await this.scope(mount)).hidden.some((h) => within(real, h));
  }

  /**
   * The real path for a virtual path inside a mount, symlinks resolved and checked.
   * - `existing`: the path must exist (ENOENT otherwise); every link on the way is followed.
   * - `create`: its parent must exist; the result is the real parent plus the last name, or the
   *   target of a link by that name that stays inside.
   * - `entry`: the directory entry itself, for DELE, RMD, RNFR and RNTO, which act on a link and
   *   never on what it points to (POSIX unlink/rmdir/rename). The parent is resolved and checked,
   *   the last name is not followed; it may be missing. A link that leads outside (or nowhere) is
   *   refused all the same, as listings hide it.
   */
  async realPath(
    vpath: string,
    mode: 'existing' | 'create' | 'entry' = 'existing',
  ): Promise<{ real: string; mount: Mount; isRoot: boolean }> {
    const loc = this.locate(vpath);
    if (!loc) throw enoent(vpath);
    if (loc.kind === 'synthetic') {
      throw new NetkitError('NETKIT_INVALID_INPUT', `${vpath}: a virtual directory, not a file`);
    }
    const { root, hides } = await this.scope(loc.mount);
    // a hidden path is answered as missing, never as refused: its existence stays unknown
    const unseen = (real: string) => {
      if (hides(real)) throw enoent(vpath);
    };
    if (mode === 'existing') {
      const real = await realpath(loc.real);
      if (!within(root, real)) throw outsideRoot(vpath, 'a symbolic link leads outside the root');
      unseen(real);
      return { real, mount: loc.mount, isRoot: real === root };
    }
    if (!loc.rel) {
      if (mode === 'entry') {
        unseen(root);
        return { real: root, mount: loc.mount, isRoot: true };
      }
      throw new NetkitError('NETKIT_INVALID_INPUT', `${vpath}: cannot create a mount point`);
    }
    const parent = await realpath(path.dirname(loc.real));
    if (!within(root, parent)) throw outsideRoot(vpath, 'a symbolic link leads outside the root');
    unseen(parent);
    const candidate = path.join(parent, path.basename(loc.real));
    // before the lstat: creating, deleting or renaming the hidden directory's own name is refused too
    unseen(candidate);
    const st = await lstat(candidate).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st?.isSymbolicLink()) return { real: candidate, mount: loc.mount, isRoot: false };
    const target = await realpath(candidate).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw outsideRoot(vpath, 'a dangling symbolic link');
      throw err;
    });
    if (!within(root, target)) throw outsideRoot(vpath, 'a symbolic link leads outside the root');
    // a link into a hidden directory is as missing as listings show it, for `entry` too
    unseen(target);
    // `create` writes through a link that stays inside; `entry` acts on the link itself
    if (mode === 'entry') return { real: candidate, mount: loc.mount, isRoot: false };
    return { real: target, mount: loc.mount, isRoot: target === root };
  }

  /** Is this virtual path a directory (synthetic or real)? */
  async isDirectory(vpath: string): Promise<boolean> {
    const loc = this.locate(vpath);
    if (!loc) return false;
    if (loc.kind === 'synthetic') return true;
    try {
      const { real } = await this.realPath(vpath);
      return (await stat(real)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Is a real path (already resolved by realpath) inside this mount's real root? */
  async contains(mount: Mount, real: string): Promise<boolean> {
    return within(await this.realRoot(mount), real);
  }
}

interface HiddenScope {
  /** the mount's root, real path */
  root: string;
  /** the hidden paths that count in the mount */
  hidden: readonly string[];
  /** is a real path hidden: one of them or inside one */
  hides: (real: string) => boolean;
  /** may a listing show a real path: inside the root and not hidden */
  visible: (real: string) => boolean;
}

function enoent(vpath: string): NodeJS.ErrnoException {
  const err = new Error(`${vpath}: no such file or directory`) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  return err;
}
