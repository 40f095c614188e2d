/**
 * An advisory lock for read-modify-write of one small file (the accounts file) by several
 * processes: `FILE.lock`, created with O_EXCL, holding the owner's pid.
 *
 * Why not just the atomic rename: rename makes each write whole, but two `netkit user add` run at
 * once both read the old file, and the second rename throws away the first one's account. The lock
 * serialises the whole read → change → write, across processes and within one.
 *
 * Node has no flock(2), so a waiter polls. A lock whose owner pid is gone on this host (a
 * SIGKILLed `netkit user add`) is stale and broken; a live owner is waited for, up to a deadline,
 * then the error names the lock file so that a person can remove it.
 */

import { link, open, readFile, rename, unlink } from 'node:fs/promises';
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

/** True when the lock's content names a process on this host that no longer exists. */
function isStale(content: string): boolean {
  const [pidText, host] = content.trim().split(/\s+/);
  const pid = Number(pidText);
  if (host !== hostname()) return false; // another machine's pid means nothing here
  return !Number.isInteger(pid) || pid <= 0 || !ownerAlive(pid);
}

async function tryAcquire(lock: string, token: string): Promise<boolean> {
  try {
    const fh = await open(lock, 'wx', 0o600);
    try {
      await fh.writeFile(token);
    } finally {
      await fh.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Break a stale lock. It is renamed away first (atomic: of two processes breaking it at once only
 * one succeeds), and put back if what was renamed turns out to be a fresh lock taken meanwhile.
 */
async function breakStale(lock: string, staleContent: string): Promise<void> {
  const aside = `${lock}.${process.pid}.stale`;
  try {
    await rename(lock, aside);
  } catch {
    return; // gone already: someone else broke it
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== staleContent) await link(aside, lock).catch(() => {});
  await unlink(aside).catch(() => {});
}

/** Run `fn` holding `FILE.lock`; the lock is released whatever `fn` does. */
export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lock = `${file}.lock`;
  const token = `${process.pid} ${hostname()} ${Math.random().toString(36).slice(2)}\n`;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let delay = 5;
  while (!(await tryAcquire(lock, token))) {
    const content = await readFile(lock, 'utf8').catch(() => undefined);
    if (content === undefined) continue; // released between our open and our read
    if (isStale(content)) {
      await breakStale(lock, content);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new NetkitError(
        'NETKIT_IO',
        `${file} is locked by process ${content.trim().split(/\s+/)[0]} (${lock}); remove the lock file if no netkit is editing it`,
      );
    }
    // polling, with a little jitter so that waiters do not retry in lockstep
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await fn();
  } finally {
    // only our own lock: never one a stale-breaker handed to someone else
    const current = await readFile(lock, 'utf8').catch(() => undefined);
    if (current === token) await unlink(lock).catch(() => {});
  }
}
