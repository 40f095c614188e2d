/**
 * `netkit pop3 retr` streams the message: a message over the 256 MiB a kept reply may have goes
 * through a pipe byte-exact, `--out FILE` is replaced only by a complete message, and a reader that
 * goes away (`| head`) ends it quietly. The terminal escaping of a streamed message equals that of
 * the whole message, however it is cut into pieces.
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

const retrArgs = (port: number, ...more: string[]) => [
  'pop3',
  'retr',
  '1',
  '--server',
  `127.0.0.1:${port}`,
  '--user',
  'bob',
  '--password',
  'pw',
  ...more,
];

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
