/**
 * Advisory lock files shared by processes on one host: `FILE.lock`, holding its owner's
 * `pid host nonce`. {@link withFileLock} serialises the read-modify-write of one small file (the
 * accounts file); {@link tryLockFile} and {@link unlockFile} are the non-blocking parts, which the
 * POP3 maildrop lock uses too.
 *
 * Why not just the atomic rename: rename makes each write whole, but two `netkit user add` run at
 * once both read the old file, and the second rename throws away the first one's account. The lock
 * serialises the whole read → change → write, across processes and within one.
 *
 * Node has no flock(2), so a waiter polls. A lock whose owner pid is gone on this host (a
 * SIGKILLed `netkit user add`) is stale and broken; a live owner is waited for, up to a deadline,
 * then the error names the lock file so that a person can remove it.
 *
 * Breaking a stale lock is the delicate part: two waiters may both find the same dead owner's
 * lock, and the later one must not remove — or move aside, even for a moment — the fresh lock
 * the earlier one (or anyone after it) has taken since. So breaking takes a claim first, a file
 * named after the stale lock's content that only one process can create; the claimant reads the
 * lock again and removes it only if it still is that stale one. While the claim is held nobody
 * else can remove it, and a lock's content (pid, host, random nonce) is never written twice, so a
 * lock seen stale under the claim is still the stale one when it is removed. A claimant that dies
 * is itself stale, and the next claim number is taken instead. Locks and claims are created
 * whole (written to a temporary name, then hard-linked), so a reader never sees one half-written.
 */

import { link, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetkitError } from './errors.js';

export interface FileLockOptions {
  /** give up after this long (ms, default 10 s) */
  timeoutMs?: number;
}

function ownerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when a lock's (or claim's) content names a process on this host that no longer exists. */
function isStale(content: string): boolean {
  const [pidText, host] = content.trim().split(/\s+/);
  const pid = Number(pidText);
  if (host !== hostname()) return false; // another machine's pid means nothing here
  return !Number.isInteger(pid) || pid <= 0 || !ownerAlive(pid);
}

/** 96 random bits in hex (Math.random: unique is all it must be, and node:crypto loads slowly). */
const nonce = (): string =>
  [0, 1]
    .map(() =>
      Math.floor(Math.random() * 2 ** 48)
        .toString(16)
        .padStart(12, '0'),
    )
    .join('');

/** What a lock or claim file holds: whose it is, and a nonce that makes each one unique. */
const ownerToken = (): string => `${process.pid} ${hostname()} ${nonce()}\n`;

/** How many stale locks one {@link tryLockFile} breaks before it reports the lock held. */
const MAX_BREAKS = 3;

/**
 * Create `file` holding `content`, or return false if it exists. Written to a temporary name and
 * hard-linked into place, so that it appears whole or not at all (a reader never takes an empty
 * file, left by a process killed between create and write, for a lock of nobody's).
 */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${nonce()}.tmp`;
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return createWithOpen(file, content);
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** O_EXCL create and write, for a file system without hard links. */
async function createWithOpen(file: string, content: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  return true;
}

/** FNV-1a of a lock's content: the claims on that one lock are named after it. */
function contentId(content: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < content.length; i++) h = Math.imul(h ^ content.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Claim number `n` on the stale lock `lock` holding `stale` (`FILE.lock.break-ID.N`). */
export function claimFile(lock: string, stale: string, n: number): string {
  return `${lock}.break-${contentId(stale)}.${n}`;
}

/**
 * Remove the lock if it still holds `stale`, under a claim on that content (see the module
 * comment). True when the way is clear to try again at once (removed, or already gone or
 * replaced); false when a live process holds the claim and is breaking it.
 */
async function breakStale(lock: string, stale: string): Promise<boolean> {
  const claim = (n: number) => claimFile(lock, stale, n);
  const token = ownerToken();
  let n = 0;
  for (;;) {
    if (await createExclusive(claim(n), token)) break;
    const holder = await readFile(claim(n), 'utf8').catch(() => undefined);
    if (holder === undefined) continue; // released meanwhile: try the same number again
    if (!isStale(holder)) return false;
    n += 1; // that claimant died: the next number
  }
  try {
    const current = await readFile(lock, 'utf8').catch(() => undefined);
    if (current === stale) await unlink(lock).catch(() => {});
    return true;
  } finally {
    // ours, and those of the dead claimants before us
    for (let i = n; i >= 0; i--) await unlink(claim(i)).catch(() => {});
  }
}

export interface TryLockOptions {
  /**
   * Whether a lock holding `content` was left by a dead owner and may be broken (default: it names
   * a process on this host that no longer exists).
   */
  isStale?: (content: string) => boolean;
}

/**
 * Take the lock file `lock` if it is free or stale: its content (the token for
 * {@link unlockFile}), or undefined when a live owner holds it.
 */
export async function tryLockFile(lock: string, options: TryLockOptions = {}): Promise<string | undefined> {
  const stale = options.isStale ?? isStale;
  const token = ownerToken();
  for (let breaks = 0; ; ) {
    if (await createExclusive(lock, token)) return token;
    const content = await readFile(lock, 'utf8').catch(() => undefined);
    if (content === undefined) continue; // released between our create and our read
    if (!stale(content) || breaks === MAX_BREAKS) return undefined;
    breaks += 1;
    if (!(await breakStale(lock, content))) return undefined;
  }
}

/** Release a lock taken by {@link tryLockFile}: only if it still is ours. */
export async function unlockFile(lock: string, token: string): Promise<void> {
  // (a person may have removed it by hand, and someone else taken it since)
  const current = await readFile(lock, 'utf8').catch(() => undefined);
  if (current === token) await unlink(lock).catch(() => {});
}

/** Run `fn` holding `FILE.lock`; the lock is released whatever `fn` does. */
export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let delay = 5;
  let token: string | undefined;
  while (!(token = await tryLockFile(lock))) {
    if (Date.now() >= deadline) {
      const owner = (await readFile(lock, 'utf8').catch(() => '')).trim().split(/\s+/)[0];
      throw new NetkitError(
        'NETKIT_IO',
        `${file} is locked by process ${owner || '?'} (${lock}); remove the lock file if no netkit is editing it`,
      );
    }
    // polling, with a little jitter so that waiters do not retry in lockstep
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await fn();
  } finally {
    await unlockFile(lock, token);
  }
}
