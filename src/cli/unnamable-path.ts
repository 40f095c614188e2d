/**
 * Paths Node cannot name. Node reads the command line and the working directory as UTF-8 text: a
 * byte that is not UTF-8 (a directory named on a Latin-1 system, `/srv/caf\xe9`) becomes U+FFFD, and
 * the text no longer names the directory the user gave. `http serve` called such a root missing,
 * and `ftp serve` created a new directory under the mangled name and served that, empty. The
 * servers work on text paths for their roots (names inside a root may be bytes), so a root whose
 * bytes were lost is refused in words before anything is created.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { NetkitError } from '../core/errors.js';

const REPLACEMENT = '\uFFFD';

/** The command line as the kernel holds it (Linux), one Buffer per argument; undefined elsewhere. */
function rawArguments(): Buffer[] | undefined {
  try {
    const all = readFileSync('/proc/self/cmdline');
    const out: Buffer[] = [];
    let start = 0;
    for (let i = all.indexOf(0); i !== -1; i = all.indexOf(0, start)) {
      out.push(all.subarray(start, i));
      start = i + 1;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Did `p` (an argument, or relative to the working directory) lose bytes that were not UTF-8? */
export function lostBytes(p: string): boolean {
  if (!path.isAbsolute(p) && process.cwd().includes(REPLACEMENT)) {
    const cwd = (() => {
      try {
        // libuv's realpath(3) of `.`: the kernel's bytes (the JavaScript one starts from the mangled text)
        return realpathSync.native('.', { encoding: 'buffer' });
      } catch {
        return undefined;
      }
    })();
    if (cwd !== undefined && !isUtf8(cwd)) return true;
  }
  if (!p.includes(REPLACEMENT)) return false;
  // an argument that held the path (`DIR`, `--root=DIR`) whose bytes are not UTF-8
  return (rawArguments() ?? []).some((arg) => !isUtf8(arg) && arg.toString('utf8').includes(p));
}

/** Refuse `p`, given as `what` (`--root /srv/x`), when its bytes were lost ({@link lostBytes}). */
export function checkNamable(what: string, p: string): void {
  if (lostBytes(p))
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `${what}: the path has bytes that are not UTF-8 (shown as ${REPLACEMENT}), and netkit can only serve from a directory whose path is UTF-8; rename it, or serve a copy`,
    );
}
