/**
 * A lab asked to listen off loopback without `--ui-auth` is refused while its configuration is
 * checked: no data directory made, no port bound, and the refusal itself is what the user reads —
 * not a port-in-use error from a service that started before the dashboard got to say no.
 */
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveLabConfig } from '../../src/lab/config.js';
import { startLab } from '../../src/lab/lab.js';
import { LAB_ANY_PORT_FLAGS, LAB_ANY_PORTS } from '../helpers/lab.js';
import { netkit, tempDir } from '../helpers/net.js';

const REFUSAL = 'the dashboard binds 0.0.0.0, which is not loopback: add --ui-auth user:pass';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-lab-off-loopback-'));
});
afterAll(() => cleanup());

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('lab --host 0.0.0.0 without --ui-auth', () => {
  it('the CLI exits 2 with the refusal before it creates or binds anything', async () => {
    // a port already taken on every interface, given to chat: a lab that bound before it checked
    // would report chat's port instead of the refusal
    const taken = net.createServer();
    taken.listen(0, '0.0.0.0');
    await once(taken, 'listening');
    try {
      const data = path.join(dir, 'cli-data');
      const port = (taken.address() as net.AddressInfo).port;
      const r = await netkit([
        'lab',
        '--host',
        '0.0.0.0',
        '--data',
        data,
        ...LAB_ANY_PORT_FLAGS,
        '--chat-port',
        String(port),
      ]);
      expect([r.code, r.stderr]).toEqual([2, `netkit: ${REFUSAL}\n`]);
      expect(r.stdout).toBe('');
      expect(await exists(data)).toBe(false);
    } finally {
      taken.close();
    }
  });

  it('startLab refuses too, for a library user who skips resolveLabConfig', async () => {
    const data = path.join(dir, 'library-data');
    const cfg = { ...resolveLabConfig({ dataDir: data, ports: LAB_ANY_PORTS }), host: '0.0.0.0' };
    await expect(startLab(cfg)).rejects.toMatchObject({ code: 'NETKIT_USAGE', message: REFUSAL });
    expect(await exists(data)).toBe(false);
  });
});
