/**
 * A Maildir listing that stays fast for big mailboxes: the same entries and order as
 * `Maildir.list()` (new/ and cur/, in delivery order: maildir-order.ts), but file metadata comes from
 * a process-wide cache instead of one `stat` per file per call.
 *
 * Why: a POP3 login snapshots the whole mailbox. `Maildir.list()` stats every file through the
 * promise API — ~150 ms for 5,000 messages on a 2-vCPU VM, where Dovecot answers from its index in
 * ~10 ms. Maildir files never change under a given name (a flag change renames the file), so
 * (path → size, mtime) can be cached safely; a repeat listing costs one readdir per folder.
 * Unknown files are stat'ed with blocking calls in slices of a few milliseconds, yielding to the
 * event loop in between, which is several times cheaper than thread-pool round trips.
 */
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { MaildirEntry } from './maildir.js';
import { sortByDelivery } from './maildir-order.js';

const CACHE_MAX = 200_000;
const SLICE_MS = 5;

interface FileMeta {
  size: number;
  mtimeMs: number;
}

const metaCache = new Map<string, FileMeta>();

function remember(file: string, meta: FileMeta): void {
  if (metaCache.size >= CACHE_MAX) {
    const oldest = metaCache.keys().next().value;
    if (oldest !== undefined) metaCache.delete(oldest);
  }
  metaCache.set(file, meta);
}

/** Forget a file (it was deleted or renamed by us). */
export function forgetFile(file: string): void {
  metaCache.delete(file);
}

/** Split `ID:2,FLAGS` (the Maildir info suffix). */
export function splitMaildirName(name: string): { id: string; flags: string } {
  const i = name.indexOf(':2,');
  return i === -1 ? { id: name, flags: '' } : { id: name.slice(0, i), flags: name.slice(i + 3) };
}

/** Every message in `dir`'s new/ and cur/, oldest first — like `Maildir.list()`, with a stat cache. */
export async function listMaildir(dir: string): Promise<MaildirEntry[]> {
  const out: MaildirEntry[] = [];
  let slice = performance.now();
  for (const folder of ['new', 'cur'] as const) {
    const base = path.resolve(dir, folder);
    let names: string[];
    try {
      names = await readdir(base);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = `${base}${path.sep}${name}`; // base is absolute and normalised: no join needed
      let meta = metaCache.get(file);
      if (!meta) {
        const st = statSync(file, { throwIfNoEntry: false });
        if (!st?.isFile()) continue; // removed meanwhile, or not a message
        meta = { size: st.size, mtimeMs: st.mtimeMs };
        remember(file, meta);
        if (performance.now() - slice > SLICE_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          slice = performance.now();
        }
      }
      const { id, flags } = splitMaildirName(name);
      out.push({ id, file, folder, flags, size: meta.size, mtimeMs: meta.mtimeMs });
    }
  }
  return sortByDelivery(out);
}
