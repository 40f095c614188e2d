/**
 * The one data directory every service shares (default `./netkit-data`): Maildirs under `mail/`,
 * the FTP tree under `ftp/`, `accounts.json`, `tls/`, chat history.
 */
import { mkdir, open, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from './dir-sync.js';

export const DEFAULT_DATA_DIR = 'netkit-data';

/** The data directory as an absolute path: `dir`, else `$NETKIT_DATA`, else `./netkit-data`. */
export function resolveDataDir(dir?: string): string {
  return path.resolve(dir ?? process.env.NETKIT_DATA ?? DEFAULT_DATA_DIR);
}

/**
 * `mkdir -p`. Not `fs.mkdir(dir, { recursive: true })`: on Node 20 that spins forever, at full
 * CPU, when a directory cannot be made under a parent that answers ENOENT (any path in /proc,
 * e.g. `--data /proc/x`); this walks up once and fails with the error instead.
 */
export async function ensureDir(dir: string, mode = 0o755): Promise<string> {
  try {
    await mkdir(dir, { mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(dir)).isDirectory()) throw err;
    } else if (code === 'ENOENT' && path.dirname(dir) !== dir) {
      await ensureDir(path.dirname(dir), mode);
      await mkdir(dir, { mode }).catch((again: NodeJS.ErrnoException) => {
        if (again.code !== 'EEXIST') throw again;
      });
    } else throw err;
  }
  return dir;
}

/**
 * Whether output named `file` must be written in place: it is there and is neither a regular file
 * nor a directory — `/dev/null`, `/dev/stdout`, a FIFO. A temp or part file renamed over it would
 * replace the device with a regular file (as root, /dev/null itself).
 */
export async function writesInPlace(file: string): Promise<boolean> {
  const target = await stat(file).catch(() => undefined);
  return target !== undefined && !target.isFile() && !target.isDirectory();
}

/**
 * Write a file so that readers see either the old or the new content, never half of it:
 * temp file in the same directory → fsync → rename → fsync of the directory (so that the rename
 * itself survives a crash). The temp name has a random part: two writes of the same file in one
 * process and one millisecond must not share (and truncate) one temp file.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o644,
  owner?: FileOwner,
): Promise<void> {
  if (await writesInPlace(file)) return writeFile(file, data); // `-c /dev/null`
  const unique = `${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 10)}`;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${unique}.tmp`);
  try {
    await writeNewSynced(tmp, data, mode, owner);
    await rename(tmp, file);
  } catch (err) {
    // a full disk fails the write: do not leave the half-written temp file behind as litter
    await rm(tmp, { force: true }).catch(() => {});
    throw aboutTarget(err, tmp, file);
  }
  // some platforms (Windows) cannot open a directory for fsync; the rename is done either way
  await fsyncDir(path.dirname(file)).catch(() => {});
}

/**
 * A failure on the temp file of {@link writeFileAtomic}, told of the file the caller named: the
 * user gave `-c jar`, and `open '.jar.4711.1700000000000.x1y2z3.tmp'` names nothing they know. The
 * rename's failure (`jar` is a directory) is then about `jar` alone.
 */
function aboutTarget(err: unknown, tmp: string, file: string): unknown {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (!(err instanceof Error) || e.path !== tmp) return err;
  e.message = e.message.replace(` -> '${file}'`, '').split(tmp).join(file);
  e.path = file;
  delete e.dest;
  return err;
}

/** Who owns a file: {@link writeFileAtomic} can give its replacement the same. */
export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * Create `file` (it must not exist) with `mode`, write `data` and fsync it. With `owner`, the file
 * is given that owner first, where this process may (root editing a file a service user reads);
 * where it may not, it stays this process's own.
 */
export async function writeNewSynced(
  file: string,
  data: string | Uint8Array,
  mode: number,
  owner?: FileOwner,
): Promise<void> {
  const fh = await open(file, 'wx', mode);
  try {
    if (owner) {
      const made = await fh.stat();
      if (made.uid !== owner.uid || made.gid !== owner.gid)
        await fh.chown(owner.uid, owner.gid).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EPERM') throw err;
        });
    }
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export { writeFile };

/** Whether real path `p` is `dir` or inside it. */
export function within(dir: string, p: string): boolean {
  // a directory that ends in the separator ("/", `C:\`) is its own prefix
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** The accounts file in a data directory: every account's scrypt hash. */
export const ACCOUNTS_FILE = 'accounts.json';
/** The development certificate's folder in a data directory: its private key. */
export const TLS_DIR = 'tls';

/**
 * The parts of a data directory no server may ever serve, even when it is told to serve the data
 * directory itself (`http serve netkit-data`) or a folder inside it: the accounts file and `tls/`.
 */
export function dataDirSecrets(dataDir: string): string[] {
  return [path.join(dataDir, ACCOUNTS_FILE), path.join(dataDir, TLS_DIR)];
}

/**
 * The real path `p` has or will have: its own `realpath`, or, while it does not exist yet (the
 * accounts file is written on the first `netkit user add`), its nearest existing ancestor's with
 * the rest appended, so that a data directory made later is recognised through symbolic links too.
 */
export async function realPathOf(p: string): Promise<string> {
  let rest = '';
  for (let at = path.resolve(p); ; ) {
    try {
      return path.join(await realpath(at), rest);
    } catch {
      const up = path.dirname(at);
      if (up === at) return path.resolve(p);
      rest = path.join(path.basename(at), rest);
      at = up;
    }
  }
}

/** The real paths of `paths`; undefined or empty entries skipped, a path named twice counts once. */
export async function hiddenRealPaths(paths: ReadonlyArray<string | undefined>): Promise<string[]> {
  const reals = await Promise.all(paths.filter((p): p is string => Boolean(p)).map(realPathOf));
  return [...new Set(reals)];
}

/** What a file server must never serve, as real paths (see {@link hiddenUnder}). */
export interface ServerSecrets {
  /** the data directory: its Maildirs, chat history, FTP tree */
  dataDir: string;
  /** the directory the server was asked to serve: `http serve DIR`, `ftp serve --root DIR` */
  asked: string;
  /** the data directory's accounts file and `tls/`, the `--cert`/`--key` files */
  secrets: readonly string[];
}

/** The {@link ServerSecrets} of a server started with these paths, resolved to real paths. */
export async function serverSecrets(
  dataDir: string,
  asked: string,
  tlsFiles: ReadonlyArray<string | undefined>,
): Promise<ServerSecrets> {
  const [secrets, data, root] = await Promise.all([
    hiddenRealPaths([...dataDirSecrets(dataDir), ...tlsFiles]),
    realPathOf(dataDir),
    realPathOf(asked),
  ]);
  return { dataDir: data, asked: root, secrets };
}

/**
 * The one rule `ftp serve` and `http serve` apply to each root they serve (a real path), kept here
 * so that the two cannot disagree: the hidden paths inside it (the jails keep out the rest), or
 * `[root]` when the root is or lies inside one, so that an area made inside `tls/` serves nothing.
 * The data directory counts unless the root lies in what the server was asked to serve and that is
 * the data directory or inside it: `http serve netkit-data` and the default FTP tree `DATA/ftp`
 * serve what they were asked to; `http serve .` beside a lab's data, or an FTP `pub` linked into
 * it, does not publish its Maildirs. `withinAny` of the result answers "is this path hidden?".
 */
export function hiddenUnder(root: string, s: ServerSecrets): string[] {
  const wanted = within(s.dataDir, s.asked) && within(s.asked, root);
  const hidden = wanted ? s.secrets : [s.dataDir, ...s.secrets];
  if (hidden.some((h) => within(h, root))) return [root];
  return hidden.filter((h) => within(root, h));
}

/**
 * {@link within} against several directories at once, with their prefixes made once: for a test
 * run on every entry of a listing. `withinAny(dirs)(p)` is `dirs.some((d) => within(d, p))`.
 */
export function withinAny(dirs: readonly string[]): (p: string) => boolean {
  if (dirs.length === 0) return () => false;
  const prefixes = dirs.map((d) => (d.endsWith(path.sep) ? d : d + path.sep));
  return (p) => {
    for (let i = 0; i < prefixes.length; i++) if (p === dirs[i] || p.startsWith(prefixes[i]!)) return true;
    return false;
  };
}
