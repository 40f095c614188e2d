/**
 * `chat serve`'s event log (one stdout line per chat message) when stdout is not read: a paused
 * pager or a stuck pipe must not hold every message said in the server's memory. Past a megabyte
 * the lines are dropped, and counted on stderr once stdout drains.
 */
import { describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/net.js';
import { spawnNetkit, until } from './peers.js';

describe('chat serve event log', () => {
  it('a stdout that is not read stays bounded: log lines are dropped and counted on stderr', async () => {
    const serve = await spawnNetkit(
      ['chat', 'serve', '--port', '0', '--json', '--rate', '0'],
      /"port":(\d+)/,
    );
    serve.child.stdout!.pause();
    const talker = await LineClient.connect(Number(serve.ready[1]));
    const listener = await LineClient.connect(Number(serve.ready[1]));
    try {
      await listener.until(/You joined #lobby/);
      // 10,000 messages of 500 bytes: over 5 MB of JSON log lines that nobody reads for now
      const total = 10_000;
      const text = 'x'.repeat(500);
      for (let i = 0; i < total; i++) talker.send(`${i} ${text}\r\n`);
      await listener.until(new RegExp(`> ${total - 1} x`), 30_000);
      serve.child.stdout!.resume();
      const report = /^netkit: dropped ([\d,]+) event log lines while stdout was not reading$/m;
      await until(() => report.test(serve.stderr()), 10_000, 'the drop report on stderr');
      const dropped = Number(report.exec(serve.stderr())![1]!.replaceAll(',', ''));
      expect(dropped).toBeGreaterThan(total / 2);
      // every line printed is whole JSON: what was not dropped came through intact
      const lines = () => serve.stdout().toString().split('\n').slice(1, -1);
      await until(
        () => lines().filter((l) => l.includes('"event":"message"')).length === total - dropped,
        10_000,
        'the printed messages',
      );
      for (const l of lines()) expect(() => JSON.parse(l)).not.toThrow();
    } finally {
      talker.close();
      listener.close();
      await serve.kill();
    }
  });
});
