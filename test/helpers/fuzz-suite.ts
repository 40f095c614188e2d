/**
 * The bounded fuzz test of one server (test/core/fuzz-*.test.ts): a fixed seed and a few hundred
 * cases of the mutation fuzzer (fuzz.ts), so the suite is deterministic in its inputs and takes
 * seconds. A failure prints each failing case's reproducer; `npm run fuzz:mutations -- --target
 * NAME --seed SEED --first INDEX --cases 1` replays one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFailures, fuzzTarget } from './fuzz.js';
import type { RunningTarget } from './fuzz-targets.js';
import { tempDir } from './net.js';

export const FUZZ_SEED = 20261125;

export function describeFuzz(
  name: string,
  start: (dir: string) => Promise<RunningTarget>,
  opts: { cases?: number; what: string },
): void {
  const cases = opts.cases ?? 200;
  describe(`${name} under mutated sessions`, () => {
    let running: RunningTarget | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      let dir: string;
      ({ dir, cleanup } = await tempDir(`netkit-fuzz-${name}-`));
      running = await start(dir);
    });
    afterAll(async () => {
      await running?.close();
      await cleanup?.();
    });

    it(`${cases} cases (seed ${FUZZ_SEED}): nothing thrown, a fresh client served after each, ${opts.what}`, async () => {
      const failures = await fuzzTarget(running!.target, { seed: FUZZ_SEED, cases, waitMs: 30, gcEvery: 20 });
      expect(failures, formatFailures(name, FUZZ_SEED, failures)).toEqual([]);
    }, 120_000);
  });
}
