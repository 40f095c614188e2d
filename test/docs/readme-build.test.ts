/**
 * README.md is built from docs/readme/ by `npm run readme` (scripts/build-readme.mjs): a chapter
 * edited without rebuilding, or a README edited below its top matter, fails here.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('README.md is what the chapters in docs/readme/ make', async () => {
  const script = path.join(import.meta.dirname, '../../scripts/build-readme.mjs');
  const run = await promisify(execFile)(process.execPath, [script, '--check']).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  expect(run).toEqual({ code: 0, stderr: '' });
});
