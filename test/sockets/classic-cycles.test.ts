/**
 * Bad input for the classic services: 10,000 connect/disconnect cycles against echo. On its own
 * file because connection set-up dominates its wall time; the server must keep serving afterwards
 * and hold no connection.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ClassicServiceHandle, startService } from '../../src/sockets/classic.js';
import { collect, until } from './peers.js';

let echo: ClassicServiceHandle;
beforeAll(async () => {
  echo = await startService('echo');
});
afterAll(() => echo.close(0));

it('10,000 connect/disconnect cycles against echo: still answering, nothing left open', async () => {
  let started = 0;
  let closedByUs = 0;
  const cycle = () =>
    new Promise<void>((resolve) => {
      const s = net.connect(echo.tcp!.port, '127.0.0.1', () => {
        closedByUs++;
        s.destroy();
      });
      s.on('error', () => {});
      s.once('close', () => resolve());
    });
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (started < 10_000) {
        started++;
        await cycle();
      }
    }),
  );
  expect(closedByUs).toBe(10_000);
  await until(() => echo.connections === 0, 10_000, 'all cycles to close');
  expect((await collect(echo.tcp!.port, 'after 10k')).toString()).toBe('after 10k');
});
