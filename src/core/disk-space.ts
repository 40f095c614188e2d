/**
 * Free space on the file system that holds a path — the bytes an unprivileged process may still
 * write (`statfs` f_bavail × f_bsize, what `df` shows as "Avail"). Servers that store what
 * clients send (FTP uploads) keep a reserve with it, so a client cannot fill the disk that the
 * rest of the machine needs.
 */
import { statfsSync } from 'node:fs';
import path from 'node:path';

/** How much space is free for `dir`'s file system (bytes); a function so tests can inject one. */
export type FreeSpace = (dir: string) => number;

/**
 * {@link FreeSpace} from the kernel: one `statfs(2)` call, microseconds. A directory not created
 * yet (a first delivery's Maildir) is measured at its nearest existing ancestor, the file system
 * it will be created on.
 */
export const freeBytes: FreeSpace = (dir) => {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      const st = statfsSync(at);
      return st.bavail * st.bsize;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || at === path.dirname(at)) throw err;
    }
  }
};

/**
 * A {@link FreeSpace} that asks the kernel again only when its last answer is older than `maxAgeMs`
 * or not above `trustAbove` bytes. A mail server checks the reserve twice per message (at MAIL and
 * at DATA): one `statfs` each is ~25 µs on a virtual machine, 4% of a small message's whole cost.
 * While the disk is far from the reserve (more than `trustAbove` free), a second's old answer is
 * as good as a fresh one; near it, every check asks the kernel.
 */
export function cachedFreeSpace(
  freeSpace: FreeSpace,
  opts: { trustAbove: number; maxAgeMs?: number; now?: () => number },
): FreeSpace {
  const maxAgeMs = opts.maxAgeMs ?? 1000;
  const now = opts.now ?? performance.now.bind(performance);
  const last = new Map<string, { bytes: number; at: number }>();
  return (dir) => {
    const seen = last.get(dir);
    const t = now();
    if (seen && seen.bytes > opts.trustAbove && t - seen.at < maxAgeMs) return seen.bytes;
    const bytes = freeSpace(dir);
    last.set(dir, { bytes, at: t });
    return bytes;
  };
}

/**
 * Whether writing `extra` more bytes under `dir` would leave less than `reserve` free (a reserve
 * of 0 is no check). A `statfs` that fails counts as room: the write itself will then tell.
 */
export function belowReserve(freeSpace: FreeSpace, dir: string, reserve: number, extra = 0): boolean {
  if (reserve <= 0) return false;
  try {
    return freeSpace(dir) - extra < reserve;
  } catch {
    return false;
  }
}

/** Servers keep this much free by default (FTP uploads, SMTP deliveries): `--min-free-space`. */
export const DEFAULT_MIN_FREE_BYTES = 100 * 1024 * 1024;
