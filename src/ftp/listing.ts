/**
 * Directory listings in the three FTP forms: LIST (`ls -l` lines, what every client parses, in
 * pyftpdlib's layout with UTC times), NLST (bare names) and MLSD/MLST (RFC 3659 machine facts
 * `type;size;modify;perm;unique`). Formatting is pure; {@link readEntries} is the one place that
 * reads a directory, and it drops symbolic links that lead outside the account's root and
 * entries the jail hides (the server's data directory).
 */
import { type Dirent, lstatSync, realpathSync, type Stats, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';

export interface Entry {
  name: string;
  isDir: boolean;
  size: number;
  mtime: Date;
  mode: number;
  nlink: number;
  dev: number;
  ino: number;
}

export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
export const DEFAULT_MLST_FACTS: readonly string[] = Object.freeze([
  'type',
  'size',
  'modify',
  'perm',
  'unique',
]);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 180 * 24 * 3600 * 1000;

/**
 * A directory entry's name as a listing shows it: control characters become `?`, as vsftpd shows
 * them. A CR or LF inside a name would end the listing line early and make up an entry of its own
 * (a file named `x\r\n226 done` would list as two); such a name cannot be asked for anyway, since
 * paths with control characters are refused.
 */
export function listedName(name: string): string {
  return /[\x00-\x1f\x7f]/.test(name) ? name.replace(/[\x00-\x1f\x7f]/g, '?') : name;
}

export function entryFromStats(name: string, st: Stats): Entry {
  return {
    name,
    isDir: st.isDirectory(),
    size: st.isDirectory() ? 0 : st.size,
    mtime: st.mtime,
    mode: st.mode,
    nlink: st.nlink,
    dev: st.dev,
    ino: st.ino,
  };
}

/** `drwxr-xr-x` from a mode (file type letter + permission bits). */
export function modeString(mode: number, isDir: boolean): string {
  const chars = 'rwxrwxrwx';
  let out = isDir ? 'd' : '-';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? chars[i] : '-';
  return out;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** The `ls -l` date column: `Mar 05 14:30` within six months, else `Mar 05  2023` (UTC). */
export function lsDate(d: Date, now: number = Date.now()): string {
  const head = `${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())}`;
  if (Math.abs(now - d.getTime()) > SIX_MONTHS_MS) return `${head}  ${d.getUTCFullYear()}`;
  return `${head} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

/** One LIST line (no CRLF). Owner and group are always `ftp`: local uids are nobody's business. */
export function formatListLine(e: Entry, now: number = Date.now()): string {
  const size = String(e.size).padStart(13);
  return `${modeString(e.mode, e.isDir)} ${String(e.nlink).padStart(3)} ftp      ftp      ${size} ${lsDate(e.mtime, now)} ${e.name}`;
}

/** RFC 3659 time-val `YYYYMMDDHHMMSS` (UTC), as used by MDTM and the `modify` fact. */
export function formatTimeVal(d: Date): string {
  return (
    `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}` +
    `${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`
  );
}

/** Parse a time-val (`YYYYMMDDHHMMSS[.sss]`, UTC) as sent with MFMT; undefined when malformed. */
export function parseTimeVal(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  return date.getUTCDate() === d ? date : undefined;
}

/**
 * MLSx facts line (no CRLF): `type=file;size=5;modify=…;perm=r;unique=…; name`. `facts` are the
 * ones enabled with `OPTS MLST`; `perm` is the precomputed RFC 3659 perm fact for this entry.
 * `typeOverride` gives `cdir`/`pdir`.
 */
export function formatFacts(
  e: Entry,
  facts: readonly string[],
  perm: string,
  name: string = e.name,
  typeOverride?: string,
): string {
  let out = '';
  for (const f of facts) {
    switch (f) {
      case 'type':
        out += `type=${typeOverride ?? (e.isDir ? 'dir' : 'file')};`;
        break;
      case 'size':
        if (!e.isDir) out += `size=${e.size};`;
        break;
      case 'modify':
        out += `modify=${formatTimeVal(e.mtime)};`;
        break;
      case 'perm':
        out += `perm=${perm};`;
        break;
      case 'unique':
        out += `unique=${e.dev.toString(16)}g${e.ino.toString(16)};`;
        break;
      case 'unix.mode':
        out += `unix.mode=0${(e.mode & 0o7777).toString(8)};`;
        break;
    }
  }
  return `${out} ${name}`;
}

/** The FEAT line for MLST: every supported fact, `*` after the enabled ones. */
export function mlstFeature(enabled: readonly string[]): string {
  return `MLST ${MLST_FACTS.map((f) => `${f}${enabled.includes(f) ? '*' : ''};`).join('')}`;
}

/** `OPTS MLST type;size;` → the supported facts among those asked for (lower-cased, in our order). */
export function parseMlstOptions(arg: string): string[] {
  const asked = new Set(
    arg
      .split(';')
      .map((f) => f.trim().toLowerCase())
      .filter(Boolean),
  );
  return MLST_FACTS.filter((f) => asked.has(f));
}

/**
 * The path a listing command (MLST, MLSD) names: its argument exactly as sent, since a name may
 * start or end with spaces (as RETR and CWD take it; pyftpdlib and pure-ftpd list such names too),
 * or '' (the working directory) when the argument is blank.
 */
export function pathArgument(arg: string): string {
  return arg.trim() === '' ? '' : arg;
}

/**
 * LIST/NLST/STAT arguments: leading `ls` options (`-la`, `-a -l`) are accepted and ignored (we
 * always list everything); what remains is the path, as {@link pathArgument} takes it.
 */
export function splitListArgs(arg: string): { options: string; path: string } {
  const opts: string[] = [];
  let rest = arg;
  for (;;) {
    const m = /^\s*(-[a-zA-Z1]+)(?:\s+|$)/.exec(rest);
    if (!m) break;
    opts.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  return { options: opts.join(' '), path: pathArgument(rest) };
}

/**
 * The names in `dir` that are not valid UTF-8 (a tree written by a Latin-1 system): readdir
 * decodes each with U+FFFD in place of the bad bytes, and no file has that decoded name, so
 * without their bytes they could not be stat'ed and would vanish from listings — a directory that
 * lists empty yet cannot be removed. Keyed by the decoded name (several may share one), they are
 * listed under it, as pyftpdlib lists them with `?`; the path jail refuses such a name when it is
 * sent back (`550 …: invalid UTF-8 in path`), since the control connection is UTF-8.
 */
async function undecodableNames(dir: string): Promise<Map<string, Buffer[]>> {
  const byName = new Map<string, Buffer[]>();
  for (const bytes of await readdir(dir, { encoding: 'buffer' })) {
    const name = bytes.toString('utf8');
    if (Buffer.from(name).equals(bytes)) continue;
    const same = byName.get(name);
    if (same) same.push(bytes);
    else byName.set(name, [bytes]);
  }
  return byName;
}

/** Entries stat'ed between two yields to the event loop. */
const STAT_BATCH = 256;

/**
 * Read a real directory and turn each child into something with `format` (a LIST line, an MLSD
 * line, an Entry), in name order, names as {@link listedName} shows them. Every entry is shown
 * only when `allowed(real)` says so — for a symbolic link `real` is its target (followed only when
 * allowed: inside the root, not hidden), for anything else the entry's own path (a hidden
 * directory by its name); entries that vanish while we read are left out too. A name that is not
 * UTF-8 is listed with U+FFFD in place of its bad bytes ({@link undecodableNames}).
 *
 * Why synchronous stats: a listing needs one stat per entry, each a few microseconds of local
 * metadata work. As promises, 300 concurrent listings of 1,000 entries become 300,000 round trips
 * through libuv's four-thread pool, which costs far more than the stats themselves (measured: over
 * twice pyftpdlib's time). So entries are stat'ed synchronously in batches, yielding to the event
 * loop between batches so other sessions keep being served even for huge directories. Each entry
 * is formatted as soon as it is stat'ed, so no Stats object outlives its batch.
 */
export async function readEntries<T>(
  dir: string,
  allowed: (real: string) => boolean,
  format: (e: Entry) => T,
): Promise<T[]> {
  const names = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const out: T[] = [];
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const undecodable = names.some((d) => d.name.includes('\ufffd')) ? await undecodableNames(dir) : undefined;
  for (let i = 0; i < names.length; i += STAT_BATCH) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const end = Math.min(i + STAT_BATCH, names.length);
    for (let j = i; j < end; j++) {
      const d: Dirent = names[j]!;
      const full = prefix + d.name;
      const bytes = undecodable?.get(d.name)?.shift();
      const own = bytes ? Buffer.concat([Buffer.from(prefix), bytes]) : full;
      try {
        if (d.isSymbolicLink()) {
          const target = realpathSync(own);
          if (allowed(target)) out.push(format(entryFromStats(listedName(d.name), statSync(target))));
        } else if (allowed(full)) {
          out.push(format(entryFromStats(listedName(d.name), lstatSync(own))));
        }
      } catch {
        // vanished or unreadable: leave it out
      }
    }
  }
  return out;
}
