/**
 * createProgress when stderr is a log, not a terminal: plain lines, the first only after one
 * interval, then one per interval and a closing line; a transfer shorter than one interval leaves
 * only its message, and `quiet` nothing.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/util.js';

function logStream(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

describe('createProgress on a stream that is not a terminal', () => {
  it('prints only the message for a transfer shorter than one interval', () => {
    const log = logStream();
    const progress = createProgress('f.bin', 2048, { stream: log.stream, intervalMs: 3_600_000 });
    progress.update(1024);
    progress.update(2048);
    progress.finish('saved f.bin');
    expect(log.text()).toBe('saved f.bin\n');
  });

  it('prints a plain line per interval while the transfer goes on', () => {
    const log = logStream();
    const progress = createProgress('f.bin', 4096, { stream: log.stream, intervalMs: 0 });
    progress.update(1024);
    progress.update(2048);
    progress.finish();
    const lines = log.text().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^f\.bin 25% 1\.0 KiB\/4\.0 KiB /);
    expect(lines[1]).toMatch(/^f\.bin 50% 2\.0 KiB\/4\.0 KiB /);
    expect(lines[2]).toMatch(/^f\.bin 50% 2\.0 KiB\/4\.0 KiB .* ETA 0:00$/);
    expect(log.text()).not.toContain('\r');
  });

  it('prints nothing when quiet', () => {
    const log = logStream();
    const progress = createProgress('f.bin', 10, { stream: log.stream, intervalMs: 0, quiet: true });
    progress.update(5);
    progress.finish('saved');
    expect(log.text()).toBe('');
  });
});
