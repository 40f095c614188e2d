/**
 * The exclusive maildrop lock of RFC 1939 §8: while one POP3 session is in the TRANSACTION state,
 * no other session may open the same mailbox (a second one gets `-ERR [IN-USE]`).
 *
 * Two layers: a process-wide set (two servers in one process, e.g. the lab, exclude each other
 * without touching the disk twice) and a lock file `netkit-pop3.lock` in the Maildir, so separate
 * server processes on one data directory exclude each other too. The file is core's lock file
 * (src/core/file-lock.ts: created whole, holding `pid host token`, a stale one broken under a
 * claim so that two processes breaking it at once cannot both win). A lock whose process is gone
 * on this host is stale, and so is one naming this process that the in-process set does not hold
 * (left by a release that failed). A lock from another host is never presumed stale.
 */
import os from 'node:os';
import path from 'node:path';
import { tryLockFile, unlockFile } from '../core/file-lock.js';

export const LOCK_FILE = 'netkit-pop3.lock';

const held = new Set<string>();
const HOST = os.hostname();

export interface MailboxLock {
  readonly dir: string;
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

/** Parse the lock file's content; undefined when it is not ours to understand. */
export function parseLockFile(text: string): LockOwner | undefined {
  const m = /^(\d+) (\S+) ([0-9a-f]+)\n?$/.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), host: m[2]!, token: m[3]! };
}

/** Is a process with this pid alive on this host? (EPERM: alive, owned by someone else.) */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Decide whether an existing lock file may be broken. `ownPid` is this process: a lock file that
 * names us but is not in the in-process set was left behind by an earlier release that failed.
 */
export function isStale(owner: LockOwner | undefined, ownPid = process.pid, alive = processAlive): boolean {
  if (!owner) return false;
  if (owner.host !== HOST) return false;
  if (owner.pid === ownPid) return true;
  return !alive(owner.pid);
}

/** Take the lock for a Maildir directory, or undefined when another session holds it. */
export async function lockMailbox(dir: string): Promise<MailboxLock | undefined> {
  const key = path.resolve(dir);
  if (held.has(key)) return undefined;
  held.add(key);
  let token: string | undefined;
  try {
    token = await createLockFile(key);
  } finally {
    if (!token) held.delete(key);
  }
  if (!token) return undefined;
  let released = false;
  return {
    dir: key,
    async release() {
      if (released) return;
      released = true;
      try {
        await unlockFile(path.join(key, LOCK_FILE), token);
      } finally {
        held.delete(key);
      }
    },
  };
}

/** The lock file's content when taken, or undefined when a live session elsewhere holds it. */
function createLockFile(dir: string): Promise<string | undefined> {
  return tryLockFile(path.join(dir, LOCK_FILE), { isStale: (text) => isStale(parseLockFile(text)) });
}
