/**
 * withFileLock() across a stale lock: when two waiters find the same dead owner's lock, only one
 * may break it, and the late one must never remove the live lock the first one's successor holds
 * (two holders at once: an accounts.json update lost). The interleaving is forced by pausing file
 * operations of one caller (told apart with AsyncLocalStorage), so the race is hit on every run.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import type * as FsPromises from 'node:fs/promises';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { claimFile, withFileLock } from '../../src/core/file-lock.js';
import { netkit, tempDir } from '../helpers/net.js';

const caller = new AsyncLocalStorage<string>();

/** Called after the real operation, in the caller's context; a test may pause a caller here. */
const hooks: {
  afterRead?: (file: string, content: string, who: string | undefined) => Promise<void> | void;
  afterRename?: (from: string, who: string | undefined) => Promise<void> | void;
} = {};

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const readFile = async (...args: Parameters<typeof real.readFile>) => {
    const content = await real.readFile(...args);
    if (typeof args[0] === 'string' && typeof content === 'string')
      await hooks.afterRead?.(args[0], content, caller.getStore());
    return content;
  };
  const rename = async (from: string, to: string) => {
    await real.rename(from, to);
    await hooks.afterRename?.(from, caller.getStore());
  };
  return { ...real, default: { ...real, readFile, rename }, readFile, rename };
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The pid of a process that has exited: a lock naming it is stale. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('netkit-file-lock-'));
});
afterEach(async () => {
  hooks.afterRead = undefined;
  hooks.afterRename = undefined;
  await cleanup();
});

/** accounts.json in the test directory, with a lock left by a process that has exited. */
async function staleLock(): Promise<{ file: string; lock: string; stale: string }> {
  const file = path.join(dir, 'accounts.json');
  const lock = `${file}.lock`;
  const stale = `${await deadPid()} ${hostname()} deadowner\n`;
  await writeFile(lock, stale);
  return { file, lock, stale };
}

/**
 * Pause caller A right after it read the stale lock (it has judged it stale and will break it)
 * until `resume()`; after that, `bRelease` resolves once A reads a live lock again, i.e. A is back
 * to waiting on the lock B took meanwhile.
 */
function pauseFirstBreaker(lock: string, stale: string) {
  const paused = deferred();
  const resumeGate = deferred();
  const bRelease = deferred();
  let resumed = false;
  hooks.afterRead = async (f, content, who) => {
    if (f !== lock || who !== 'A') return;
    if (content === stale && !resumed) {
      paused.resolve();
      await resumeGate.promise;
    }
    if (resumed && content !== stale) bRelease.resolve();
  };
  const resume = () => {
    resumed = true;
    resumeGate.resolve();
  };
  return { paused: paused.promise, resume, bRelease };
}

describe('withFileLock and a stale lock', () => {
  it('two waiters that find the same stale lock never let two holders in at once', async () => {
    const { file, lock, stale } = await staleLock();
    let holders = 0;
    let most = 0;
    const critical = async (until?: Promise<void>) => {
      most = Math.max(most, ++holders);
      await until;
      holders--;
    };
    const { paused, resume, bRelease } = pauseFirstBreaker(lock, stale);
    const bIn = deferred();
    const cIn = deferred();
    // a breaker that moves the lock aside leaves no lock for a moment: C gets in then, if it can
    hooks.afterRename = async (from, who) => {
      if (from === lock && who === 'A') await cIn.promise;
    };

    const a = caller.run('A', () => withFileLock(file, () => critical()));
    await paused;
    const b = caller.run('B', () =>
      withFileLock(file, () => {
        bIn.resolve();
        return critical(bRelease.promise);
      }),
    );
    await bIn.promise;
    resume();
    const c = caller.run('C', () =>
      withFileLock(file, () => {
        cIn.resolve();
        return critical();
      }),
    );
    await Promise.all([a, b, c]);
    expect(most).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a late breaker does not leave behind the lock of a holder that has finished meanwhile', async () => {
    const { file, lock, stale } = await staleLock();
    const quick = { timeoutMs: 3000 };
    const { paused, resume, bRelease } = pauseFirstBreaker(lock, stale);
    let bDone: Promise<void> | undefined;
    // a breaker that moved B's live lock aside: B finishes and lets go before it is put back
    hooks.afterRename = async (from, who) => {
      if (from !== lock || who !== 'A') return;
      bRelease.resolve();
      await bDone;
    };

    const a = caller.run('A', () => withFileLock(file, async () => {}, quick));
    await paused;
    const bIn = deferred();
    bDone = caller.run('B', () =>
      withFileLock(
        file,
        async () => {
          bIn.resolve();
          await bRelease.promise;
        },
        quick,
      ),
    );
    await bIn.promise;
    resume();
    await Promise.all([a, bDone]);
    // nobody holds the lock now: the next caller gets it at once
    await withFileLock(file, async () => {}, quick);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a breaker that died holding its claim does not block the lock for good', async () => {
    const { file, lock, stale } = await staleLock();
    // two breakers killed in turn, each after taking its claim on that stale lock
    await writeFile(claimFile(lock, stale, 0), `${await deadPid()} ${hostname()} breaker0\n`);
    await writeFile(claimFile(lock, stale, 1), `${await deadPid()} ${hostname()} breaker1\n`);
    let ran = false;
    await withFileLock(
      file,
      async () => {
        ran = true;
      },
      { timeoutMs: 3000 },
    );
    expect(ran).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('waits while a live process holds the claim, and names the lock when it gives up', async () => {
    const { file, lock, stale } = await staleLock();
    // a claim of this (live) process: someone is breaking that lock right now
    await writeFile(claimFile(lock, stale, 0), `${process.pid} ${hostname()} breaker\n`);
    await expect(withFileLock(file, async () => {}, { timeoutMs: 200 })).rejects.toThrow(
      `is locked by process ${stale.split(' ')[0]} (${lock})`,
    );
    expect(await readFile(lock, 'utf8')).toBe(stale);
  });
});

describe('concurrent `netkit user add` over a stale lock', () => {
  it('ten processes at once, one stale lock left by a killed one: every account is kept', async () => {
    const data = path.join(dir, 'data');
    const names = Array.from({ length: 10 }, (_, i) => `user${i}`);
    // the lock a `netkit user add` killed halfway left behind
    await netkit(['user', 'add', 'first', '--data', data], { env: { NETKIT_PASSWORD: 'pw' } });
    await writeFile(path.join(data, 'accounts.json.lock'), `${await deadPid()} ${hostname()} killed\n`);
    const runs = await Promise.all(
      names.map((name) => netkit(['user', 'add', name, '--data', data], { env: { NETKIT_PASSWORD: 'pw' } })),
    );
    expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    const list = await netkit(['user', 'list', '--json', '--data', data]);
    const listed = (JSON.parse(list.stdout) as Array<{ name: string }>).map((a) => a.name).sort();
    expect(listed).toEqual(['first', ...names].sort());
    expect(await readdir(data)).toEqual(['accounts.json']);
  });
});
