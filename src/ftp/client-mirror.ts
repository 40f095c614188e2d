/**
 * Mirroring whole trees with an {@link FtpClient}: read the remote tree (recursive listing) and
 * the local tree (lstat, links never followed), let {@link planMirror} decide, then carry the plan
 * out — downloads through the client's part files, local times set from the server's, uploads
 * followed by MFMT so the next `--only-newer` run compares like with like.
 *
 * Every name from the server passes {@link unsafeNameReason} before it is used at all (skipped
 * with a warning otherwise), and every local path is built by {@link safeLocalPath}: a hostile
 * listing cannot make a mirror write, or delete, outside the target directory. Listings are
 * bounded in depth and total entries so a server cannot make the walk endless.
 *
 * A missing remote directory is an error, never an empty tree: the source is checked with CWD
 * before it is listed (and empty listings again by {@link FtpClient.list}), so `--delete` only
 * ever acts on a complete listing. Without MLSD times (LIST-only servers such as vsftpd) file
 * times come from MDTM, as lftp does, so changes of the same size are seen and local copies get
 * the server's times.
 */
import { lstat, mkdir, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ensureDir } from '../core/datadir.js';
import { NetkitError } from '../core/errors.js';
import { type FtpClient, type ResumeAdvice, withResumeAdvice } from './client.js';
import { joinRemote } from './ftp-url.js';
import { type MirrorAction, type MirrorPlan, planMirror, summarisePlan, type TreeEntry } from './mirror.js';
import { displayName, safeLocalPath, unsafeNameReason } from './safe-name.js';

export interface TreeWalkOptions {
  /** deepest directory level read (default 32) */
  maxDepth?: number;
  /** most entries read in total (default 100,000) */
  maxEntries?: number;
  /** called for every entry skipped because of its name, depth, or type */
  onWarning?: (message: string) => void;
}

export interface MirrorOptions extends TreeWalkOptions {
  /** transfer only files whose source is newer than the target */
  onlyNewer?: boolean;
  /** delete target entries that are not in the source */
  delete?: boolean;
  /** plan only, change nothing */
  dryRun?: boolean;
  /** called with the plan before anything is changed (totals for a progress bar) */
  onPlan?: (plan: MirrorPlan) => void;
  /** called before each action is carried out */
  onAction?: (action: MirrorAction) => void;
}

export interface MirrorResult {
  plan: MirrorPlan;
  summary: ReturnType<typeof summarisePlan>;
  /** bytes actually moved */
  transferred: number;
  warnings: string[];
}

/** The default bound for the entries of one tree walk (`maxEntries`). */
export const MAX_TREE_ENTRIES = 100_000;
const MAX_TREE_DEPTH = 32;

function limits(opts: TreeWalkOptions): { maxDepth: number; maxEntries: number } {
  return { maxDepth: opts.maxDepth ?? MAX_TREE_DEPTH, maxEntries: opts.maxEntries ?? MAX_TREE_ENTRIES };
}

function tooMany(max: number): NetkitError {
  return new NetkitError(
    'NETKIT_TOO_LARGE',
    `more than ${max} entries in the tree, the limit for one tree (--max-entries)`,
  );
}

/** The remote tree under `dir` (relative paths). Unsafe names are skipped with a warning. */
export async function remoteTree(
  client: FtpClient,
  dir: string,
  opts: TreeWalkOptions = {},
): Promise<Map<string, TreeEntry>> {
  const { maxDepth, maxEntries } = limits(opts);
  const tree = new Map<string, TreeEntry>();
  // a LIST of a missing directory can come back empty, and a LIST of a file lists the file
  if (dir !== '') await client.requireDirectory(dir, 'list');
  const queue: Array<{ rel: string; level: number }> = [{ rel: '', level: 1 }];
  while (queue.length > 0) {
    const { rel, level } = queue.shift()!;
    const entries = await client.list(rel === '' ? dir : joinRemote(dir, rel));
    for (const e of entries) {
      if (e.name === '.' || e.name === '..') continue;
      const relPath = rel === '' ? e.name : `${rel}/${e.name}`;
      const why = unsafeNameReason(e.name);
      if (why) {
        opts.onWarning?.(`skipped remote ${displayName(rel ? `${rel}/${e.name}` : e.name)}: ${why}`);
        continue;
      }
      if (tree.size >= maxEntries) throw tooMany(maxEntries);
      const entry: TreeEntry = { type: e.type, size: e.size };
      if (e.modifiedAt) entry.mtime = e.modifiedAt.getTime();
      tree.set(relPath, entry);
      if (e.type === 'dir') {
        if (level >= maxDepth)
          opts.onWarning?.(`not descending into ${displayName(relPath)}: deeper than ${maxDepth}`);
        else queue.push({ rel: relPath, level: level + 1 });
      }
    }
  }
  await addMdtmTimes(client, dir, tree);
  return tree;
}

/** Files listed without a time (LIST) get theirs from MDTM when the server offers it. */
async function addMdtmTimes(client: FtpClient, dir: string, tree: Map<string, TreeEntry>): Promise<void> {
  const untimed = [...tree].filter(([, e]) => e.type === 'file' && e.mtime === undefined);
  if (untimed.length === 0 || !(await client.features()).has('MDTM')) return;
  for (const [rel, e] of untimed) {
    const t = await client.lastModified(joinRemote(dir, rel));
    if (t) e.mtime = t.getTime();
  }
}

/** The local tree under `dir`; symbolic links are listed as links, never followed. */
export async function localTree(dir: string, opts: TreeWalkOptions = {}): Promise<Map<string, TreeEntry>> {
  const { maxDepth, maxEntries } = limits(opts);
  const tree = new Map<string, TreeEntry>();
  const walk = async (rel: string, level: number): Promise<void> => {
    const names = (await readdir(rel === '' ? dir : path.join(dir, rel))).sort();
    for (const name of names) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const why = unsafeNameReason(name);
      if (why) {
        opts.onWarning?.(`skipped local ${displayName(relPath)}: ${why}`);
        continue;
      }
      if (tree.size >= maxEntries) throw tooMany(maxEntries);
      const st = await lstat(path.join(dir, relPath));
      const type = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      tree.set(relPath, { type, size: type === 'file' ? st.size : 0, mtime: st.mtimeMs });
      if (type === 'dir') {
        if (level >= maxDepth)
          opts.onWarning?.(`not descending into ${displayName(relPath)}: deeper than ${maxDepth}`);
        else await walk(relPath, level + 1);
      }
    }
  };
  await walk('', 1);
  return tree;
}

async function localDirTree(dir: string, opts: TreeWalkOptions): Promise<Map<string, TreeEntry>> {
  try {
    return await localTree(dir, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
}

/** The walk options of a mirror, keeping every warning for the result as it is passed on. */
function collectingWarnings(opts: MirrorOptions): { walk: TreeWalkOptions; warnings: string[] } {
  const warnings: string[] = [];
  const walk: TreeWalkOptions = {
    ...opts,
    onWarning: (m) => {
      warnings.push(m);
      opts.onWarning?.(m);
    },
  };
  return { walk, warnings };
}

/** Download the remote directory `remoteDir` into `localDir` (created when missing). */
export async function mirrorDown(
  client: FtpClient,
  remoteDir: string,
  localDir: string,
  opts: MirrorOptions = {},
): Promise<MirrorResult> {
  const { walk, warnings } = collectingWarnings(opts);
  const source = await remoteTree(client, remoteDir, walk);
  const target = await localDirTree(localDir, walk);
  const plan = planMirror(source, target, opts);
  opts.onPlan?.(plan);
  let transferred = 0;
  if (!opts.dryRun) {
    await ensureDir(localDir);
    for (const a of plan.actions) {
      if (a.kind === 'skip') continue;
      opts.onAction?.(a);
      const local = safeLocalPath(localDir, a.path.split('/'));
      if (a.kind === 'mkdir') await mkdir(local);
      else if (a.kind === 'delete') await removeLocal(local, a.type === 'dir');
      else {
        const r = await client
          .get(joinRemote(remoteDir, a.path), local, {
            mtime: a.mtime !== undefined ? new Date(a.mtime) : true,
            resume: await resumablePart(local, a),
          })
          .catch((err: unknown) => {
            throw withResumeAdvice(err, downloadAdvice(a));
          });
        transferred += r.transferred;
      }
    }
  }
  return { plan, summary: summarisePlan(plan), transferred, warnings };
}

/** Remove a local file or empty directory; already gone is fine (a part file renamed by its download). */
async function removeLocal(local: string, dir: boolean): Promise<void> {
  try {
    await (dir ? rmdir(local) : unlink(local));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * What a failed mirror download says about the part file it kept: a mirror has no `--continue`,
 * it continues a part file by itself when run again ({@link resumablePart}) — if the server gave
 * the file's time to check the part against, and takes REST.
 */
export function downloadAdvice(a: { mtime?: number }): ResumeAdvice {
  return {
    resume:
      a.mtime !== undefined
        ? 'run the mirror again to resume'
        : 'but the server gives no time for the file, so a mirror run again starts it over',
    restRefused: 'but the server refused REST: remove it, and a mirror run again starts the file over',
  };
}

/**
 * Continue `LOCAL.part` (left by an interrupted run) instead of starting again, when it is
 * shorter than the server's file and was written after the server's file last changed — so it is
 * a prefix of the current content, not of an older version.
 */
async function resumablePart(local: string, a: { size: number; mtime?: number }): Promise<boolean> {
  if (a.mtime === undefined) return false;
  const st = await stat(`${local}.part`).catch(() => undefined);
  if (!st?.isFile()) return false;
  return st.size > 0 && st.size < a.size && st.mtimeMs >= a.mtime;
}

/**
 * What a failed mirror upload says about the server's short copy: a mirror run again sends the file
 * whole (its size differs) — unless `onlyNewer`, for which the short copy, written last, is newer.
 */
export function uploadAdvice(opts: Pick<MirrorOptions, 'onlyNewer'>): ResumeAdvice {
  const again = `run the mirror again${opts.onlyNewer ? ' without --only-newer' : ''} to upload it again`;
  return { resume: again, restRefused: again };
}

/** Upload the local directory `localDir` into `remoteDir` (created when missing). */
export async function mirrorUp(
  client: FtpClient,
  localDir: string,
  remoteDir: string,
  opts: MirrorOptions = {},
): Promise<MirrorResult> {
  const { walk, warnings } = collectingWarnings(opts);
  const st = await lstat(localDir).catch(() => undefined);
  if (!st?.isDirectory()) throw new NetkitError('NETKIT_NOT_FOUND', `${localDir} is not a directory`);
  const source = await localTree(localDir, walk);
  const exists = remoteDir === '' || (await client.isDirectory(remoteDir));
  const target = exists ? await remoteTree(client, remoteDir, walk) : new Map<string, TreeEntry>();
  const plan = planMirror(source, target, opts);
  opts.onPlan?.(plan);
  let transferred = 0;
  if (!opts.dryRun) {
    if (!exists) await client.mkdir(remoteDir, { parents: true });
    for (const a of plan.actions) {
      if (a.kind === 'skip') continue;
      opts.onAction?.(a);
      const remote = joinRemote(remoteDir, a.path);
      if (a.kind === 'mkdir') await client.mkdir(remote);
      else if (a.kind === 'delete')
        await (a.type === 'dir' ? client.removeEmptyDir(remote) : client.remove(remote));
      else {
        const local = safeLocalPath(localDir, a.path.split('/'));
        const opt = a.mtime !== undefined ? { mtime: new Date(a.mtime) } : {};
        const r = await client.put(local, remote, opt).catch((err: unknown) => {
          throw withResumeAdvice(err, uploadAdvice(opts));
        });
        transferred += r.transferred;
      }
    }
  }
  return { plan, summary: summarisePlan(plan), transferred, warnings };
}

/** Remove a remote directory and everything below it (deepest first; unsafe names left alone). */
export async function removeTree(
  client: FtpClient,
  dir: string,
  opts: TreeWalkOptions = {},
): Promise<number> {
  const tree = await remoteTree(client, dir, opts);
  const plan = planMirror(new Map(), tree, { delete: true });
  let n = 0;
  for (const a of plan.actions) {
    if (a.kind !== 'delete') continue;
    const remote = joinRemote(dir, a.path);
    await (a.type === 'dir' ? client.removeEmptyDir(remote) : client.remove(remote));
    n++;
  }
  await client.removeEmptyDir(dir);
  return n + 1;
}
