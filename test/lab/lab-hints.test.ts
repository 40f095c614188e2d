/**
 * The start-up table's hints are meant to be copied and pasted: the `mail send` hint must work as
 * printed, also when the lab's data directory is not the default one (it then names `--data`, so
 * `mail send` trusts that directory's development certificate for STARTTLS).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_PORTS, type LabPortName, resolveLabConfig } from '../../src/lab/config.js';
import { type LabHandle, startLab } from '../../src/lab/lab.js';
import { netkit, tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let lab: LabHandle;

beforeAll(async () => {
  tmp = await tempDir('netkit-lab-hints-');
  const ports = Object.fromEntries(Object.keys(DEFAULT_LAB_PORTS).map((k) => [k, 0])) as Record<
    LabPortName,
    number
  >;
  lab = await startLab(resolveLabConfig({ dataDir: path.join(tmp.dir, 'lab data'), ports }));
});
afterAll(async () => {
  await lab?.close();
  await tmp.cleanup();
});

describe('lab start-up hints', () => {
  it('the mail send hint names a non-default --data and works as printed', async () => {
    const hint = lab.services().find((s) => s.name === 'smtp')!.hint!;
    expect(hint).toContain(`--data '${path.join(tmp.dir, 'lab data')}'`);
    // split the way a shell would: the quoted data directory is one word
    const words = [...hint.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    expect(words[0]).toBe('netkit');
    const r = await netkit(words.slice(1), { cwd: tmp.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
