/** The lab reads its FTP passive range as `ftp serve --passive-ports` does, with the same words. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLabConfig } from '../../src/lab/config.js';
import { startLab } from '../../src/lab/lab.js';
import { LAB_ANY_PORTS } from '../helpers/lab.js';
import { tempDir } from '../helpers/net.js';

describe('netkit lab --passive-ports', () => {
  it('refuses what ftp serve refuses, in its words', async () => {
    const { dir, cleanup } = await tempDir('netkit-lab-passive-');
    try {
      for (const [spec, words] of [
        ['abc', 'passive ports "abc" is not a port range (e.g. 50000-50100)'],
        ['60000-50000', 'passive ports "60000-50000": a port range must lie within 1024-65535, low-high'],
      ] as const) {
        const config = resolveLabConfig({
          dataDir: path.join(dir, 'data'),
          ports: LAB_ANY_PORTS,
          passivePorts: spec,
        });
        await expect(startLab(config)).rejects.toThrow(words);
      }
    } finally {
      await cleanup();
    }
  });
});
