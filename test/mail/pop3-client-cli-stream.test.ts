/**
 * `netkit pop3 retr` streams the message: a message over the 256 MiB a kept reply may have goes
 * through a pipe byte-exact, `--out FILE` is replaced only by a complete message, and a reader that
 * goes away (`| head`) ends it quietly. The terminal escaping of a streamed message equals that of
 * the whole message, however it is cut into pieces. `netkit pop3 fetch --window N` keeps at most N
 * RETRs outstanding, and `--max-parse-size` decides which messages the summary parses whole.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { terminalSafe, terminalSafeStream } from '../../src/core/terminal-safe.js';
import { CLI, netkit, tempDir } from '../helpers/net.js';
import {
  type FakeMessage,
  type FakePop3,
  fakePop3,
  header,
  messageHash,
  messageSize,
  textBlock,
} from './pop3-client-fake.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function serve(messages: FakeMessage[], opts: Parameters<typeof fakePop3>[1] = {}): Promise<FakePop3> {
  const fake = await fakePop3(messages, opts);
  cleanups.push(() => fake.close());
  return fake;
}

async function tmp(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** `netkit pop3 COMMAND …` logged in as bob at the fake server on `port`. */
const pop3Args = (command: string[], port: number, ...more: string[]) => [
  'pop3',
  ...command,
  '--server',
  `127.0.0.1:${port}`,
  '--user',
  'bob',
  '--password',
  'pw',
  ...more,
];

const retrArgs = (port: number, ...more: string[]) => pop3Args(['retr', '1'], port, ...more);

const big = (count: number): FakeMessage => ({ head: header('big'), block: textBlock(800, 80), count });

describe('terminalSafeStream', () => {
  const hostile = Buffer.from(
    'Subject: gr\u00fc\u00dfe \u{1f44b} \u001b]0;PWNED\u0007\r\n\r\nbody \u202eexe.jpg\r\nlone\rCR\r\r\nend\r',
    'utf8',
  );
  const whole = terminalSafe(hostile.toString('utf8'), { multiline: true });

  it('escapes a message cut anywhere exactly as the whole message', () => {
    const cuts: Buffer[][] = [[hostile], [...hostile].map((b) => Buffer.from([b]))];
    for (let i = 1; i < hostile.length; i++) cuts.push([hostile.subarray(0, i), hostile.subarray(i)]);
    for (const pieces of cuts) {
      const s = terminalSafeStream();
      expect(pieces.map((p) => s.write(p)).join('') + s.end()).toBe(whole);
    }
    expect(whole).toContain('\\x1b]0;PWNED\\x07');
    expect(whole).toContain('\\u202eexe.jpg\nlone\\x0dCR\\x0d\nend\\x0d');
  });
});

describe('netkit pop3 retr (streamed)', () => {
  it('pipes a message larger than the 256 MiB a kept reply may have, byte-exact', async () => {
    const msg = big(4200); // 275,520,041 octets
    expect(messageSize(msg)).toBeGreaterThan(256 * 1024 * 1024);
    const fake = await serve([msg]);
    const child = spawn(process.execPath, [CLI, ...retrArgs(fake.port)]);
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(bytes).toBe(messageSize(msg));
    expect(hash.digest('hex')).toBe(messageHash(msg));
    expect(fake.commands.at(-1)).toBe('QUIT');
  }, 60_000);

  it('--out FILE: the complete message, private, no temporary file left', async () => {
    const msg = big(128); // 8 MiB
    const fake = await serve([msg]);
    const dir = await tmp();
    const file = path.join(dir, 'one.eml');
    const r = await netkit(retrArgs(fake.port, '--out', file));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`saved message 1 (8.0 MiB) to ${file}\n`);
    expect(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    ).toBe(messageHash(msg));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['one.eml']);
  });

  it('--out FILE: a connection lost in the middle leaves FILE as it was', async () => {
    const fake = await serve([big(128)], { dieIn: { n: 1, after: 3_000_000 } });
    const dir = await tmp();
    const file = path.join(dir, 'one.eml');
    await writeFile(file, 'the copy from before\n');
    const r = await netkit(retrArgs(fake.port, '--out', file));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^netkit: connection closed by 127\.0\.0\.1:\d+ in the middle of the reply to RETR 1\n$/,
    );
    expect(await readFile(file, 'utf8')).toBe('the copy from before\n');
    expect(await readdir(dir)).toEqual(['one.eml']);
  });

  it('fetch cut off in a message: the error says what was saved, nothing deleted, no partial file', async () => {
    const small: FakeMessage = { head: header('small'), block: textBlock(10), count: 1 };
    const fake = await serve([small, big(128)], { dieIn: { n: 2, after: 3_000_000 } });
    const dir = await tmp();
    const r = await netkit(pop3Args(['fetch'], fake.port, '--out', dir, '--delete'));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `netkit: connection closed by 127.0.0.1:${fake.port} in the middle of the reply to RETR 2; ` +
        `1 message(s) saved into ${dir} before that, none deleted on the server\n`,
    );
    expect((await readdir(dir)).sort()).toEqual(['.netkit-pop3-state.json', 'uid-1.eml']);
    expect(fake.commands).not.toContain('QUIT');
  });

  it('a reader that goes away (| head) ends it quietly, without reading the rest', async () => {
    const fake = await serve([big(128)]);
    const command = [process.execPath, CLI, ...retrArgs(fake.port)].map((a) => `'${a}'`).join(' ');
    const child = spawn('bash', ['-c', `set -o pipefail; ${command} | head -c 1000 >/dev/null`]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(fake.commands).not.toContain('QUIT');
  });
});

describe('netkit pop3 fetch --window / --max-parse-size', () => {
  const fetchArgs = (port: number, out: string, ...more: string[]) =>
    pop3Args(['fetch'], port, '--out', out, ...more);

  /**
   * The most RETRs the client had outstanding, read from its `--trace`: a RETR's `C:` line is
   * traced as it is sent and its `(N octets)` line once the whole reply is in. The client sends its
   * first window in one go, before it reads any reply, so the count does not depend on timing.
   */
  function mostOutstanding(trace: string): number {
    let outstanding = 0;
    let most = 0;
    for (const line of trace.split('\n')) {
      if (/ C: RETR \d+$/.test(line)) most = Math.max(most, ++outstanding);
      else if (/ \* \(\d+ octets\)$/.test(line)) outstanding--;
    }
    return most;
  }

  const small = (k: number): FakeMessage => ({ head: header(`m${k}`), block: textBlock(20), count: 1 });

  it('--window N: at most N RETRs outstanding (32 without it); every message still saved', async () => {
    const messages = Array.from({ length: 8 }, (_, k) => small(k + 1));
    const fake = await serve(messages);
    const runs: Array<[string[], number]> = [
      [[], 8], // the default window (32) takes all eight at once
      [['--window', '3'], 3],
      [['--window', '1'], 1],
    ];
    for (const [flags, expected] of runs) {
      const r = await netkit(fetchArgs(fake.port, await tmp(), '--trace', '--json', ...flags));
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).messages.map((m: { verified: boolean }) => m.verified)).toEqual(
        messages.map(() => true),
      );
      expect((r.stderr.match(/ C: RETR \d+$/gm) ?? []).length).toBe(8);
      expect(mostOutstanding(r.stderr)).toBe(expected);
    }
  });

  it('--max-parse-size SIZE: a larger message is summarised from its header alone', async () => {
    const fake = await serve([small(1), big(2)]); // 1.7 kB, 131 kB
    const parsed = (stdout: string) =>
      JSON.parse(stdout).messages.map((m: { subject: string; headerOnly?: boolean }) => [
        m.subject,
        m.headerOnly ?? false,
      ]);
    const all = await netkit(fetchArgs(fake.port, await tmp(), '--json'));
    expect(all.code).toBe(0);
    expect(parsed(all.stdout)).toEqual([
      ['m1', false],
      ['big', false],
    ]);
    const limited = await netkit(fetchArgs(fake.port, await tmp(), '--json', '--max-parse-size', '64k'));
    expect(limited.code).toBe(0);
    expect(parsed(limited.stdout)).toEqual([
      ['m1', false],
      ['big', true],
    ]);
    const table = await netkit(fetchArgs(fake.port, await tmp(), '--max-parse-size', '0'));
    expect(table.stdout.split('\n').filter((l) => l.endsWith('? (not parsed)'))).toHaveLength(2);
  });

  it('the values are checked as the other count and size flags are (exit 2)', async () => {
    const dir = await tmp();
    for (const [flags, message] of [
      [['--window', '0'], /"0" must be greater than 0/],
      [['--window', 'many'], /"many" is not an integer/],
      [['--max-parse-size', '16 megs'], /"16 megs" is not a size/],
    ] as const) {
      const r = await netkit(fetchArgs(1, dir, ...flags));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const help = await netkit(['pop3', 'fetch', '--help']);
    expect(help.stdout).toMatch(/--window <n>\s+RETRs outstanding at once .*\(default: 32\)/s);
    expect(help.stdout).toMatch(
      /--max-parse-size <size>\s+summarise messages up to SIZE parsed whole.*\(default: 16M\)/s,
    );
  });
});
