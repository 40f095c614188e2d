/**
 * `chat serve`'s event log (one stdout line per chat message) when stdout is not read: a paused
 * pager or a stuck pipe must not hold every message said in the server's memory. Past
 * `--max-log-backlog` (a megabyte by default) the lines are dropped, and counted on stderr once
 * stdout drains, or at exit if it never does.
 */
import { describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/net.js';
import { type Peer, spawnNetkit, until } from './peers.js';

const REPORT = /^netkit: dropped ([\d,]+) event log lines while stdout was not reading$/m;

/**
 * A `chat serve --json --rate 0` (plus `args`) whose stdout the test does not read, sent `total`
 * messages of 500 bytes; `then(serve)` runs once a member has received the last of them.
 */
async function unreadLog(total: number, args: string[], then: (serve: Peer) => Promise<void>): Promise<void> {
  const serve = await spawnNetkit(
    ['chat', 'serve', '--port', '0', '--json', '--rate', '0', ...args],
    /"port":(\d+)/,
  );
  serve.child.stdout!.pause();
  const talker = await LineClient.connect(Number(serve.ready[1]));
  const listener = await LineClient.connect(Number(serve.ready[1]));
  try {
    await listener.until(/You joined #lobby/);
    const text = 'x'.repeat(500);
    for (let i = 0; i < total; i++) talker.send(`${i} ${text}\r\n`);
    await listener.until(new RegExp(`> ${total - 1} x`), 30_000);
    await then(serve);
  } finally {
    talker.close();
    listener.close();
    await serve.kill();
  }
}

describe('chat serve event log', () => {
  it('a stdout that is not read stays bounded: log lines are dropped and counted on stderr', async () => {
    // 10,000 messages of 500 bytes: over 5 MB of JSON log lines that nobody reads for now
    const total = 10_000;
    await unreadLog(total, [], async (serve) => {
      serve.child.stdout!.resume();
      await until(() => REPORT.test(serve.stderr()), 10_000, 'the drop report on stderr');
      const dropped = Number(REPORT.exec(serve.stderr())![1]!.replaceAll(',', ''));
      expect(dropped).toBeGreaterThan(total / 2);
      // every line printed is whole JSON: what was not dropped came through intact
      const lines = () => serve.stdout().toString().split('\n').slice(1, -1);
      await until(
        () => lines().filter((l) => l.includes('"event":"message"')).length === total - dropped,
        10_000,
        'the printed messages',
      );
      for (const l of lines()) expect(() => JSON.parse(l)).not.toThrow();
    });
  });

  it('lines dropped from a stdout that never drains are reported at exit (SIGTERM), within --max-log-backlog', async () => {
    // 2,000 messages of 500 bytes: 1.2 MB of JSON log lines that nobody reads, ever
    const total = 2000;
    await unreadLog(total, ['--max-log-backlog', '64k'], async (serve) => {
      expect(serve.stderr()).not.toMatch(/dropped/); // stdout has not drained: nothing said yet
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      await until(() => REPORT.test(serve.stderr()), 10_000, 'the drop report on stderr');
      const dropped = Number(REPORT.exec(serve.stderr())![1]!.replaceAll(',', ''));
      // the pipe and our paused side hold a few hundred KB, the server 64 KiB: most are dropped
      expect(dropped).toBeGreaterThan(total / 2);
    });
  });
});
