/**
 * The exploratory side of the mutation fuzzer (scripts/fuzz-mutations.mjs bundles and calls this):
 * start each target in its own temporary directory, run the cases, print every failure with its
 * reproducer. Not a test: any seed, as many cases as asked, progress on stderr.
 */
import type { ClassicServiceName } from '../../src/sockets/classic.js';
import { formatFailures, fuzzTarget } from './fuzz.js';
import {
  type RunningTarget,
  startChatTarget,
  startClassicTarget,
  startDashboardTarget,
  startFtpTarget,
  startHttpTarget,
  startPop3Target,
  startSmtpTarget,
} from './fuzz-targets.js';
import { tempDir } from './net.js';

const CLASSIC: ClassicServiceName[] = ['echo', 'discard', 'daytime', 'qotd', 'chargen', 'time'];

const STARTERS: Record<string, (dir: string) => Promise<RunningTarget>> = {
  smtp: startSmtpTarget,
  pop3: startPop3Target,
  ftp: startFtpTarget,
  http: startHttpTarget,
  chat: startChatTarget,
  dashboard: startDashboardTarget,
  ...Object.fromEntries(CLASSIC.map((s) => [s, () => startClassicTarget(s)])),
};

/** Returns whether anything failed. */
export async function runFuzz(opts: {
  targets: string[];
  seed: number;
  cases: number;
  first: number;
}): Promise<boolean> {
  const names = opts.targets.includes('all') ? Object.keys(STARTERS) : opts.targets;
  let failed = false;
  for (const name of names) {
    const start = STARTERS[name];
    if (!start) throw new Error(`unknown target ${name} (choose from ${Object.keys(STARTERS).join(', ')})`);
    const { dir, cleanup } = await tempDir(`netkit-fuzz-${name}-`);
    const running = await start(dir);
    const began = Date.now();
    const failures = await fuzzTarget(running.target, {
      seed: opts.seed,
      cases: opts.cases,
      first: opts.first,
      // a leaked file handle is then blamed on one of the last ten cases: replay them one by one
      gcEvery: opts.cases === 1 ? 1 : 10,
      onCase: (c) => {
        if (c.index % 100 === 0) process.stderr.write(`${name}: case ${c.index}\n`);
      },
    });
    await running.close();
    console.log(
      `${name}: seed ${opts.seed}, cases ${opts.first}..${opts.first + opts.cases - 1}, ${failures.length} failure(s), ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );
    if (failures.length) {
      failed = true;
      console.log(formatFailures(name, opts.seed, failures));
      console.log(`(kept ${dir})`);
    } else await cleanup();
  }
  return failed;
}
