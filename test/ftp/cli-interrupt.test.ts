/**
 * `netkit ftp get|put|mirror` stopped with Ctrl-C or SIGTERM, as curl and lftp users expect: the
 * transfer stops, what arrived stays where the next run picks it up (the download's `.part`, the
 * server's short copy of an upload), one line says how to go on, and the exit code is 130 (143 for
 * SIGTERM). Each run is interrupted once its bytes are on disk (fs.watch, no timers); the run after
 * it must finish the file, byte for byte.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FtpServerHandle } from '../../src/ftp/server.js';
import type { FtpSessionEvent } from '../../src/ftp/session.js';
import { killWhenOnDisk, lengthOf, netkit, tempDir } from '../helpers/net.js';
import { pattern, startOurFtpServer } from './client-helpers.js';

const PW = 'ivy-pw';
/** big enough that `--limit-rate` keeps it moving for many seconds */
const BIG = pattern(2_000_000, 7);
/** the pace that holds each transfer open until the signal comes */
const SLOW = ['--limit-rate', '100K', '--quiet'];

let base: string;
let cleanup: () => Promise<void>;
let server: FtpServerHandle;
let home: string;
let url: string;
let n = 0;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftp-interrupt-'));
  ({ server, home } = await startOurFtpServer(
    base,
    { user: 'ivy', password: PW },
    { 'big.bin': BIG, 'tree/small.txt': 'small\n', 'tree/sub/big.bin': BIG },
  ));
  url = `ftp://ivy:${PW}@127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

/** A fresh local directory. */
async function localDir(): Promise<string> {
  const dir = path.join(base, `local${++n}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Resolves once the server has written out an upload that it saw broken off (426): a data connection
 * closed as cleanly as at the end of a file would have made it a complete upload (226).
 */
function uploadCutOff(): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: FtpSessionEvent) => {
      if (e.event === 'transfer' && e.transfer?.direction === 'upload' && e.transfer.state === 'failed') {
        server.off('session', on);
        resolve();
      }
    };
    server.on('session', on);
  });
}

describe('an interrupted ftp transfer', () => {
  it('get: SIGINT keeps FILE.part with what arrived, says --continue, exits 130; --continue finishes it', async () => {
    const dir = await localDir();
    const file = path.join(dir, 'big.bin');
    const r = await killWhenOnDisk(
      ['ftp', 'get', `${url}/big.bin`, '-o', file, ...SLOW],
      `${file}.part`,
      1,
      'SIGINT',
    );
    expect([r.code, r.signal]).toEqual([130, null]);
    expect(r.stderr).toMatch(
      /^netkit: interrupted; .*big\.bin\.part kept \([\d.]+ KiB\), resume with --continue\n$/,
    );
    expect(await readdir(dir)).toEqual(['big.bin.part']);
    const kept = await readFile(`${file}.part`);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(BIG.length);
    expect(kept.equals(BIG.subarray(0, kept.length))).toBe(true);

    const again = await netkit(['ftp', 'get', `${url}/big.bin`, '-o', file, '--continue', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ resumedFrom: kept.length, size: BIG.length });
    expect((await readFile(file)).equals(BIG)).toBe(true);
  });

  it('put: SIGTERM leaves the server its short copy, says --continue, exits 143; --continue finishes it', async () => {
    const dir = await localDir();
    const file = path.join(dir, 'up.bin');
    await writeFile(file, BIG);
    const cutOff = uploadCutOff();
    const r = await killWhenOnDisk(
      ['ftp', 'put', file, `${url}/up.bin`, ...SLOW],
      path.join(home, 'up.bin'),
      1,
      'SIGTERM',
    );
    expect([r.code, r.signal]).toEqual([143, null]);
    expect(r.stderr).toBe('netkit: interrupted; resume with --continue\n');
    await cutOff;
    const again = await netkit(['ftp', 'put', file, `${url}/up.bin`, '--continue', '--json']);
    expect(again.code).toBe(0);
    const resumed = JSON.parse(again.stdout).resumedFrom as number;
    expect(resumed).toBeGreaterThan(0);
    expect(resumed).toBeLessThan(BIG.length);
    expect((await readFile(path.join(home, 'up.bin'))).equals(BIG)).toBe(true);
  });

  it('mirror: SIGINT keeps the part file and no complete-looking copy; the next mirror resumes it', async () => {
    const dir = await localDir();
    await mkdir(path.join(dir, 'sub'));
    const part = path.join(dir, 'sub', 'big.bin.part');
    const r = await killWhenOnDisk(['ftp', 'mirror', `${url}/tree/`, dir, ...SLOW], part, 1, 'SIGINT');
    expect([r.code, r.signal]).toEqual([130, null]);
    expect(r.stderr).toMatch(
      /^netkit: interrupted; .*big\.bin\.part kept \([\d.]+ KiB\), run the mirror again to resume\n$/,
    );
    expect(await readdir(path.join(dir, 'sub'))).toEqual(['big.bin.part']);
    const kept = await lengthOf(part);

    const again = await netkit(['ftp', 'mirror', `${url}/tree/`, dir, '--json']);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout);
    expect(result.transfers).toBe(1);
    expect(result.transferred).toBe(BIG.length - kept);
    expect((await readFile(path.join(dir, 'sub', 'big.bin'))).equals(BIG)).toBe(true);
    expect(await readdir(path.join(dir, 'sub'))).toEqual(['big.bin']);
  });

  it('mirror --reverse: SIGTERM says the server has part of the file; the next mirror sends it whole', async () => {
    const dir = await localDir();
    await writeFile(path.join(dir, 'big.bin'), BIG);
    await mkdir(path.join(home, 'back'));
    const cutOff = uploadCutOff();
    const r = await killWhenOnDisk(
      ['ftp', 'mirror', '--reverse', dir, `${url}/back/`, '--only-newer', ...SLOW],
      path.join(home, 'back', 'big.bin'),
      1,
      'SIGTERM',
    );
    expect([r.code, r.signal]).toEqual([143, null]);
    expect(r.stderr).toBe(
      'netkit: interrupted; the server has part of back/big.bin; run the mirror again without --only-newer to upload it again\n',
    );
    await cutOff;
    const again = await netkit(['ftp', 'mirror', '--reverse', dir, `${url}/back/`, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ transfers: 1, transferred: BIG.length });
    expect((await readFile(path.join(home, 'back', 'big.bin'))).equals(BIG)).toBe(true);
  });
});
