/**
 * The output name when the user did not give one (`-o`). A name chosen for us — by the server's
 * `Content-Disposition`, by a redirect, or by the URL — never replaces a file that is already
 * there: like aria2c's default `--auto-file-renaming`, the download goes to `NAME.1.EXT`,
 * `NAME.2.EXT`, …, the first name not taken. (curl `-J` refuses outright, wget adds `.1`.) A
 * server must not be able to clobber `Makefile` or yesterday's download by naming it.
 *
 * Only the finished file counts as taken: a leftover `NAME.EXT.part` is our own unfinished
 * download, which `continue` resumes (and a fresh run replaces), so the name stays stable between
 * an interrupted run and its `--continue`.
 */
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { NetkitError } from '../../core/errors.js';

const MAX_SUFFIX = 9999;

/** `dir/a.tar.gz`, 2 → `dir/a.tar.2.gz`; `dir/README`, 1 → `dir/README.1` (aria2c's pattern). */
export function numberedName(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}.${n}${ext}`;
}

async function taken(file: string): Promise<boolean> {
  // lstat: a dangling symlink is taken too (renaming onto it would replace the link)
  return lstat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== 'ENOENT',
  );
}

/** `file` if nothing is there, else the first free `NAME.N.EXT`. */
export async function unusedName(file: string): Promise<string> {
  if (!(await taken(file))) return file;
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const candidate = numberedName(file, n);
    if (!(await taken(candidate))) return candidate;
  }
  throw new NetkitError(
    'NETKIT_IO',
    `${file} and ${numberedName(file, 1)} … ${numberedName(file, MAX_SUFFIX)} all exist: name the output file with -o`,
  );
}

/**
 * `continue` on a download that already finished: `file` is there at the server's size and no
 * `.part` is left. wget `-c` says "already fully retrieved", aria2c `-c` resumes from the file's
 * length (nothing left), curl `-C -` gets a 416 and stops: none fetches it again. Without this a
 * second `--continue` would download the whole file again (to `NAME.1.EXT`). Like theirs, the
 * check trusts the size; `checksum` verifies the content when given.
 */
export async function alreadyComplete(file: string, size: number | undefined): Promise<boolean> {
  if (size === undefined) return false;
  const [f, part] = await Promise.all([
    stat(file).catch(() => undefined),
    lstat(`${file}.part`).catch(() => undefined),
  ]);
  return f?.isFile() === true && f.size === size && part === undefined;
}
