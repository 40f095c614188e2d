/**
 * Ctrl-C and SIGTERM in the middle of a transfer: the command stops the transfer, leaves its files
 * as documented and exits 128 + the signal's number (130, 143), as a shell reports it. `http get
 * -o` and `pop3 retr --out` write through a temp file beside the target: an interruption removes
 * it and leaves the old file as it was, instead of dying with a `.FILE.PID.RANDOM.tmp` behind.
 */
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers/net.js';
import { type FakePop3, fakePop3, header, textBlock } from '../mail/pop3-client-fake.js';

let server: http.Server;
let url: string;
let pop3: FakePop3;

beforeAll(async () => {
  // promises 1 MiB, sends 64 KiB of it, then nothing more until the client goes
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(1024 * 1024) });
    res.write(Buffer.alloc(64 * 1024, 'x'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`;
  // a 1 MiB message of which 64 KiB come
  const message = { head: header('big'), block: textBlock(800, 80), count: 16 };
  pop3 = await fakePop3([message], { stallIn: { n: 1, after: 64 * 1024 } });
});
afterAll(async () => {
  await pop3.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Run `netkit …args`, send `signal` once a temp file is in `dir`; the exit code. */
async function interrupted(
  args: string[],
  dir: string,
  signal: 'SIGINT' | 'SIGTERM',
): Promise<number | null> {
  const tempFile = new Promise<void>((resolve) => {
    const watcher = watch(dir, (_event, name) => {
      if (name?.endsWith('.tmp')) {
        watcher.close();
        resolve();
      }
    });
  });
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await tempFile;
  child.kill(signal);
  return exited;
}

/** `command` writing to `file`, interrupted with `signal`: exit `code`, the old file and no other. */
async function expectInterrupted(
  command: (file: string) => string[],
  signal: 'SIGINT' | 'SIGTERM',
  code: number,
): Promise<void> {
  const { dir, cleanup } = await tempDir('netkit-interrupt-');
  try {
    const file = path.join(dir, 'big.bin');
    await writeFile(file, 'old\n');
    expect(await interrupted(command(file), dir, signal)).toBe(code);
    expect(await readdir(dir)).toEqual(['big.bin']);
    expect(await readFile(file, 'utf8')).toBe('old\n');
  } finally {
    await cleanup();
  }
}

const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const;

describe('an interrupted transfer', () => {
  it.each(SIGNALS)('http get -o: %s removes the temp file, keeps the old file, exits %i', (signal, code) =>
    expectInterrupted((file) => ['http', 'get', url, '-o', file], signal, code),
  );

  it.each(SIGNALS)(
    'pop3 retr --out: %s removes the temp file, keeps the old file, exits %i',
    (signal, code) =>
      expectInterrupted(
        (file) => [
          'pop3',
          'retr',
          '1',
          '--server',
          `127.0.0.1:${pop3.port}`,
          '--user',
          'bob',
          '--password',
          'pw',
          '--out',
          file,
        ],
        signal,
        code,
      ),
  );
});
