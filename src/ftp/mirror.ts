/**
 * Mirror planning: compare a source tree with a target tree and decide what to do, as a pure
 * function so every rule is table-tested without a server. The same plan serves both directions
 * (`mirror` downloads: source = remote; `mirror --reverse` uploads: source = local); executing it
 * is client-mirror.ts's job.
 *
 * Rules (lftp's `mirror` semantics, simplified):
 * - a missing file is transferred; a missing directory is created (parents first);
 * - default: an existing file is transferred again when its size differs or the source is newer
 *   (modification times compared to the second, the resolution of MLSD and MDTM);
 * - `onlyNewer`: an existing file is transferred only when the source is newer — a newer target
 *   is never overwritten; without times on both sides the sizes decide;
 * - `delete`: target entries absent from the source are removed (deepest first, after the
 *   transfers); a type clash (file here, directory there) is resolved by removing the target
 *   entry first — without `delete` the clash is skipped with a reason;
 * - symbolic links and special files in the source are never followed or copied, and whatever
 *   the target holds under their names is left alone.
 */

export type TreeEntryType = 'file' | 'dir' | 'link' | 'other';

export interface TreeEntry {
  type: TreeEntryType;
  /** bytes (files) */
  size: number;
  /** modification time, ms since the epoch, when known */
  mtime?: number;
}

/** A tree: relative paths (`/`-separated, no leading `/`) to entries. */
export type Tree = ReadonlyMap<string, TreeEntry>;

export interface MirrorPlanOptions {
  /** replace an existing file only when the source is newer, never a newer target (default: also when the sizes differ) */
  onlyNewer?: boolean;
  /** remove what the destination has and the source does not (default false) */
  delete?: boolean;
}

export type MirrorAction =
  | { kind: 'mkdir'; path: string }
  | {
      kind: 'transfer';
      path: string;
      size: number;
      mtime?: number;
      reason: 'new' | 'changed' | 'newer';
    }
  | { kind: 'delete'; path: string; type: TreeEntryType }
  | { kind: 'skip'; path: string; reason: string };

export interface MirrorPlan {
  actions: MirrorAction[];
  /** files already identical on both sides (by size and time) */
  upToDate: number;
}

const depth = (p: string): number => p.split('/').length;
const parentOf = (p: string): string | undefined => {
  const i = p.lastIndexOf('/');
  return i === -1 ? undefined : p.slice(0, i);
};
const seconds = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : Math.floor(ms / 1000);

/** Is `p` equal to or below one of `prefixes`? */
function under(p: string, prefixes: ReadonlySet<string>): boolean {
  for (let q: string | undefined = p; q !== undefined; q = parentOf(q)) if (prefixes.has(q)) return true;
  return false;
}

/** Why an existing target file must be replaced by the source file, or undefined when not. */
function replaceReason(
  s: TreeEntry,
  t: TreeEntry,
  onlyNewer: boolean,
): 'changed' | 'newer' | 'target-newer' | undefined {
  const sm = seconds(s.mtime);
  const tm = seconds(t.mtime);
  const timed = sm !== undefined && tm !== undefined;
  if (onlyNewer) {
    if (timed && sm > tm) return 'newer';
    if (s.size === t.size) return undefined;
    return timed && sm < tm ? 'target-newer' : 'changed';
  }
  if (s.size !== t.size) return 'changed';
  if (timed && sm > tm) return 'newer';
  return undefined;
}

/** Plan a mirror of `source` onto `target`. Pure: same trees in, same actions out. */
export function planMirror(source: Tree, target: Tree, opts: MirrorPlanOptions = {}): MirrorPlan {
  const del = opts.delete === true;
  const clears: MirrorAction[] = [];
  const mkdirs: MirrorAction[] = [];
  const transfers: MirrorAction[] = [];
  const skips: MirrorAction[] = [];
  /** source paths whose subtree is not mirrored (links, specials, unresolved clashes) */
  const handsOff = new Set<string>();
  /** target paths already scheduled for removal (with their subtrees) */
  const cleared = new Set<string>();
  let upToDate = 0;

  const targetBelow = (p: string): string[] => [...target.keys()].filter((k) => k.startsWith(`${p}/`));
  const clear = (p: string, t: TreeEntry): void => {
    if (t.type === 'dir') {
      for (const k of targetBelow(p).sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1)))
        clears.push({ kind: 'delete', path: k, type: target.get(k)!.type });
    }
    clears.push({ kind: 'delete', path: p, type: t.type });
    cleared.add(p);
  };

  for (const p of [...source.keys()].sort()) {
    if (under(p, handsOff)) continue;
    const s = source.get(p)!;
    const t = target.get(p);
    if (s.type === 'link' || s.type === 'other') {
      skips.push({
        kind: 'skip',
        path: p,
        reason: s.type === 'link' ? 'symbolic link' : 'not a regular file',
      });
      handsOff.add(p);
      continue;
    }
    if (t && t.type !== s.type) {
      if (!del) {
        const what = t.type === 'dir' ? 'a directory' : t.type === 'file' ? 'a file' : `a ${t.type}`;
        skips.push({ kind: 'skip', path: p, reason: `target is ${what} (use delete to replace it)` });
        handsOff.add(p);
        continue;
      }
      clear(p, t);
    }
    const exists = t !== undefined && t.type === s.type;
    if (s.type === 'dir') {
      if (!exists) mkdirs.push({ kind: 'mkdir', path: p });
      continue;
    }
    let reason: 'new' | 'changed' | 'newer' | 'target-newer' | undefined = 'new';
    if (exists) reason = replaceReason(s, t, opts.onlyNewer === true);
    if (reason === 'target-newer') skips.push({ kind: 'skip', path: p, reason: 'target is newer' });
    else if (reason === undefined) upToDate++;
    else {
      const a: MirrorAction = { kind: 'transfer', path: p, size: s.size, reason };
      if (s.mtime !== undefined) a.mtime = s.mtime;
      transfers.push(a);
    }
  }

  const extras: MirrorAction[] = [];
  if (del) {
    const gone = [...target.keys()]
      .filter((k) => !source.has(k) && !under(k, cleared) && !under(k, handsOff))
      .sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
    for (const k of gone) extras.push({ kind: 'delete', path: k, type: target.get(k)!.type });
  }
  return { actions: [...skips, ...clears, ...mkdirs, ...transfers, ...extras], upToDate };
}

/** Totals of a plan, for summaries and the progress bar. */
export function summarisePlan(plan: MirrorPlan): {
  transfers: number;
  bytes: number;
  mkdirs: number;
  deletes: number;
  skips: number;
  upToDate: number;
} {
  let transfers = 0;
  let bytes = 0;
  let mkdirs = 0;
  let deletes = 0;
  let skips = 0;
  for (const a of plan.actions) {
    if (a.kind === 'transfer') {
      transfers++;
      bytes += a.size;
    } else if (a.kind === 'mkdir') mkdirs++;
    else if (a.kind === 'delete') deletes++;
    else skips++;
  }
  return { transfers, bytes, mkdirs, deletes, skips, upToDate: plan.upToDate };
}
