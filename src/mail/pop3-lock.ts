/**
 * The exclusive maildrop lock of RFC 1939 §8: while one POP3 session is in the TRANSACTION state,
 * no other session may open the same mailbox (a second one gets `-ERR [IN-USE]`).
 *
 * Two layers: a process-wide set (two servers in one process, e.g. the lab, exclude each other
 * without touching the disk twice) and a lock file `netkit-pop3.lock` in the Maildir, so separate
 * server processes on one data directory exclude each other too. The file is created atomically
 * (write a temporary file, then `link()` it into place, which fails if the name exists) and holds
 * `pid host token`. A lock whose process is gone on this host is stale and is broken by renaming
 * it aside and checking that the renamed file is the stale one, so two processes breaking the same
 * stale lock cannot both win. A lock from another host is never presumed stale.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

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
        const file = path.join(key, LOCK_FILE);
        const owner = parseLockFile(await readFile(file, 'utf8').catch(() => ''));
        if (owner?.token === token) await unlink(file).catch(() => {});
      } finally {
        held.delete(key);
      }
    },
  };
}

async function createLockFile(dir: string): Promise<string | undefined> {
  const file = path.join(dir, LOCK_FILE);
  const token = randomBytes(8).toString('hex');
  const tmp = path.join(dir, `.${LOCK_FILE}.${process.pid}.${token}`);
  await writeFile(tmp, `${process.pid} ${HOST} ${token}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, file);
        return token;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // released meanwhile: try again
      const owner = parseLockFile(text);
      if (!isStale(owner)) return undefined;
      if (!(await breakStale(file, text))) return undefined;
    }
    return undefined;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Move a stale lock aside; true when what we moved was indeed the stale file we judged. */
async function breakStale(file: string, staleText: string): Promise<boolean> {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch {
    return true; // gone already: retry the link
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved === staleText) {
    await unlink(aside).catch(() => {});
    return true;
  }
  // We moved a fresh lock that replaced the stale one in between: put it back.
  await link(aside, file).catch(() => {});
  await unlink(aside).catch(() => {});
  return false;
}
