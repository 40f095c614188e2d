/**
 * The FTP client's `limitRate` / `--limit-rate` (curl's pacing, one budget per transfer): downloads
 * and uploads (also resumed ones) stay byte-identical and take at least as long as the rate
 * allows. Only lower bounds on time are checked: a loaded machine can make a transfer slower,
 * never faster than its limit.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpClient } from '../../src/ftp/client.js';
import type { FtpServerHandle } from '../../src/ftp/server.js';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, sha256, startOurFtpServer } from './client-helpers.js';

const PW = 'erin-Secret-5';
const RATE = 1024 * 1024;
/** the least time `bytes` can take at RATE, less the bucket's first burst (RATE / 20) */
const floorMs = (bytes: number) => ((bytes - RATE / 20) / RATE) * 1000;
let base: string;
let cleanup: () => Promise<void>;
let server: FtpServerHandle;
let home: string;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-rate-'));
  ({ server, home } = await startOurFtpServer(
    base,
    { user: 'erin', password: PW },
    { 'seven.bin': pattern(700_000, 51) },
  ));
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

describe('FtpClient limitRate', () => {
  it('paces get, getStream and put (fresh and resumed); every byte arrives', async () => {
    const client = await FtpClient.connect({
      host: '127.0.0.1',
      port: server.port,
      user: 'erin',
      password: PW,
      limitRate: RATE,
    });
    try {
      const dest = path.join(base, 'seven.bin');
      let t0 = performance.now();
      await client.get('seven.bin', dest);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(floorMs(700_000));
      expect(sha256(await readFile(dest))).toBe(sha256(pattern(700_000, 51)));

      const body = pattern(600_000, 52);
      const src = path.join(base, 'up.bin');
      await writeFile(src, body);
      t0 = performance.now();
      await client.put(src, 'up.bin');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(floorMs(600_000));
      expect(sha256(await readFile(path.join(home, 'up.bin')))).toBe(sha256(body));

      // the server holds the first 200,000 bytes: the resumed upload sends (and paces) the rest
      await writeFile(path.join(home, 'half.bin'), body.subarray(0, 200_000));
      t0 = performance.now();
      const r = await client.put(src, 'half.bin', { resume: true });
      expect(r).toMatchObject({ resumedFrom: 200_000, transferred: 400_000 });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(floorMs(400_000));
      expect(sha256(await readFile(path.join(home, 'half.bin')))).toBe(sha256(body));

      client.limitRate = 0; // unlimited from here on
      const again = path.join(base, 'again.bin');
      await client.get('up.bin', again);
      expect(sha256(await readFile(again))).toBe(sha256(body));
    } finally {
      client.close();
    }
  });
});

describe('netkit ftp --limit-rate', () => {
  it('get and put honour it; a bad rate is a usage error', async () => {
    const env = { NETKIT_PASSWORD: PW };
    const url = `ftp://erin@127.0.0.1:${server.port}`;
    const out = path.join(base, 'cli.bin');
    let t0 = performance.now();
    const get = await netkit(['ftp', 'get', `${url}/seven.bin`, '-o', out, '--limit-rate', '1M'], { env });
    expect(get.code, get.stderr).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(floorMs(700_000));
    expect(sha256(await readFile(out))).toBe(sha256(pattern(700_000, 51)));
    t0 = performance.now();
    const put = await netkit(['ftp', 'put', out, `${url}/cli-up.bin`, '--limit-rate', '1M'], { env });
    expect(put.code, put.stderr).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(floorMs(700_000));
    expect(sha256(await readFile(path.join(home, 'cli-up.bin')))).toBe(sha256(pattern(700_000, 51)));
    const bad = await netkit(['ftp', 'get', `${url}/seven.bin`, '--limit-rate', 'fast'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: .*--limit-rate <rate>.*bad rate "fast"/);
  });
});
