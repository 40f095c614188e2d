/**
 * Free space on the file system that holds a path — the bytes an unprivileged process may still
 * write (`statfs` f_bavail × f_bsize, what `df` shows as "Avail"). Servers that store what
 * clients send (FTP uploads) keep a reserve with it, so a client cannot fill the disk that the
 * rest of the machine needs.
 */
import { statfsSync } from 'node:fs';

/** How much space is free for `dir`'s file system (bytes); a function so tests can inject one. */
export type FreeSpace = (dir: string) => number;

/** {@link FreeSpace} from the kernel: one `statfs(2)` call, microseconds. */
export const freeBytes: FreeSpace = (dir) => {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
};
