/**
 * The server's disk and bandwidth limits, driven by Python's ftplib (and curl for one upload):
 * the per-file upload limit (552, the upload undone: removed, cut back to the REST offset, or to
 * the size before APPE), the free-space reserve (452 before the 150 and in the middle of an
 * upload, what arrived kept), ALLO checked against both, and the rate limits (lower bounds on
 * time only, every byte compared). The free space is injected, so no test has to fill a disk.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpClient } from '../../src/ftp/client.js';
import { checkUpload, SPACE_CHECK_BYTES, uploadGuard } from '../../src/ftp/upload-limits.js';
import { run } from '../helpers/net.js';
import { type Fixture, PASSWORDS, startFixture } from './fixture.js';
import { python } from './ftplib.js';

const LIMIT = 100_000;
const MiB = 1024 * 1024;

describe('upload limits (units)', () => {
  const limits = (free: number, max = LIMIT) => ({
    maxUploadBytes: max,
    minFreeBytes: 10 * MiB,
    freeSpace: () => free,
  });

  it('checkUpload: 552 at or past the size limit, 452 below the reserve, nothing otherwise', () => {
    expect(checkUpload(limits(1e12), '/x', 0)).toBeUndefined();
    expect(checkUpload(limits(1e12), '/x', LIMIT)?.code).toBe(552);
    expect(checkUpload(limits(1e12), '/x', 0, LIMIT + 1)?.code).toBe(552);
    expect(checkUpload(limits(9 * MiB), '/x', 0)?.code).toBe(452);
    expect(checkUpload(limits(12 * MiB, 0), '/x', 0, 3 * MiB)?.code).toBe(452);
    expect(checkUpload(limits(12 * MiB, 0), '/x', 0, 1 * MiB)).toBeUndefined();
    // a statfs that fails lets the upload try (the write itself will say ENOSPC)
    const failing = {
      ...limits(0),
      freeSpace: () => {
        throw new Error('EIO');
      },
    };
    expect(checkUpload(failing, '/x', 0)).toBeUndefined();
  });

  it('uploadGuard: EFBIG past the bytes left, ENOSPC at a space check below the reserve', () => {
    expect(uploadGuard({ maxUploadBytes: 0, minFreeBytes: 0, freeSpace: () => 0 }, '/x', 0)).toBeUndefined();
    const sized = uploadGuard(limits(1e12), '/x', 40_000)!;
    expect(sized(60_000)).toBeUndefined();
    expect((sized(60_001) as NodeJS.ErrnoException).code).toBe('EFBIG');
    let free = 1e12;
    let calls = 0;
    const spaced = uploadGuard(
      {
        maxUploadBytes: 0,
        minFreeBytes: 10 * MiB,
        freeSpace: () => {
          calls += 1;
          return free;
        },
      },
      '/x',
      0,
    )!;
    expect(spaced(SPACE_CHECK_BYTES - 1)).toBeUndefined();
    expect(calls).toBe(0); // statfs only every SPACE_CHECK_BYTES
    expect(spaced(SPACE_CHECK_BYTES)).toBeUndefined();
    expect(calls).toBe(1);
    free = 1;
    expect(spaced(SPACE_CHECK_BYTES + 1)).toBeUndefined();
    expect((spaced(2 * SPACE_CHECK_BYTES) as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });
});

describe('ftp serve: the size limit, with ftplib', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture({ limits: { maxUploadBytes: LIMIT } });
  });
  afterAll(() => fx.cleanup());

  it('552 for a file past the limit, and the upload is undone; smaller files and ALLO within it pass', async () => {
    const home = path.join(fx.root, 'home/alice');
    const r = await python(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['small'] = f.storbinary('STOR small.bin', io.BytesIO(blob[:50000]))[:3]
R['big'] = stor_code(f, 'STOR big.bin', blob)
R['big_gone'] = 'big.bin' not in f.nlst()
f.storbinary('STOR resumed.bin', io.BytesIO(blob[:40000]))
R['rest_over'] = stor_code(f, 'STOR resumed.bin', blob[40000:], rest=40000)
R['rest_size'] = f.size('resumed.bin')
R['appe_over'] = stor_code(f, 'APPE small.bin', blob[:60000])
R['appe_size'] = f.size('small.bin')
R['appe_ok'] = f.storbinary('APPE small.bin', io.BytesIO(blob[50000:90000]))[:3]
R['appe_same'] = get(f, 'small.bin') == blob[:90000]
R['stou_over'] = stor_code(f, 'STOU', blob)
R['allo_over'] = code(f.sendcmd, 'ALLO 100001')
R['allo_ok'] = f.sendcmd('ALLO 100000')[:3]
R['rest_at_limit'] = stor_code(f, 'STOR resumed.bin', b'x', rest=100000)
R['still_serving'] = f.voidcmd('NOOP')[:3]
R['nlst'] = sorted(f.nlst())
f.quit()
`,
      fx.port,
    );
    expect(r).toEqual({
      small: '226',
      big: '552',
      big_gone: true,
      rest_over: '552',
      rest_size: 40000,
      appe_over: '552',
      appe_size: 50000,
      appe_ok: '226',
      appe_same: true,
      stou_over: '552',
      allo_over: '552',
      allo_ok: '202',
      rest_at_limit: '552',
      still_serving: '200',
      nlst: ['resumed.bin', 'small.bin'],
    });
    // what stayed on disk is what was there before each refused command
    const blob = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + 3) % 256));
    expect((await readFile(path.join(home, 'resumed.bin'))).equals(blob.subarray(0, 40_000))).toBe(true);
  });

  it('TYPE A counts the bytes the file gets (LF), not the CRLF on the wire', async () => {
    const r = await python(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
# 40,000 lines: 120,000 bytes on the wire (x CR LF), 80,000 in the file (x LF)
R['fits'] = f.storlines('STOR lines.txt', io.BytesIO(b'x' + bytes([10]) + (b'x' + bytes([10])) * 39999))[:3]
f.voidcmd('TYPE I')
R['size'] = f.size('lines.txt')
f.quit()
`,
      fx.port,
    );
    expect(r).toEqual({ fits: '226', size: 80_000 });
  });

  it('our client reports the 552, not the broken data connection, and its connection stays usable', async () => {
    const local = path.join(fx.base, 'client-upload.bin');
    await writeFile(local, randomBytes(3 * LIMIT));
    const small = path.join(fx.base, 'client-small.bin');
    await writeFile(small, randomBytes(1000));
    const client = await FtpClient.connect({ host: '127.0.0.1', port: fx.port });
    try {
      for (let i = 0; i < 3; i++) {
        await expect(client.put(local, `incoming/over-${i}.bin`)).rejects.toMatchObject({
          ftpCode: 552,
          message: expect.stringMatching(/^put incoming\/over-\d\.bin: 552 Exceeded storage allocation/),
        });
        // the same control connection goes on
        expect((await client.put(small, `incoming/small-${i}.bin`)).size).toBe(1000);
      }
    } finally {
      client.close();
    }
  });

  it('curl -T past the limit gets 552 (curl exit 70, "allocation exceeded") and leaves no file', async () => {
    const file = path.join(fx.base, 'upload.bin');
    await writeFile(file, randomBytes(LIMIT + 1));
    const r = await run('curl', ['-sS', '-T', file, `ftp://127.0.0.1:${fx.port}/incoming/over.bin`]);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/Exceeded storage allocation/);
    await expect(stat(path.join(fx.root, 'incoming/over.bin'))).rejects.toThrow(/ENOENT/);
  });
});

describe('ftp serve: the free-space reserve, with ftplib', () => {
  let fx: Fixture;
  let free = Number.POSITIVE_INFINITY;
  /** the free space after this many more statfs calls drops to `free` … */
  let dropAfter = Number.POSITIVE_INFINITY;
  beforeAll(async () => {
    fx = await startFixture({
      limits: { minFreeBytes: 64 * MiB },
      freeSpace: () => (dropAfter-- > 0 ? 1e12 : free),
    });
  });
  afterAll(() => fx.cleanup());

  it('452 before the transfer when the disk is below the reserve: nothing created', async () => {
    free = 10 * MiB;
    dropAfter = 0;
    const r = await python(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['stor'] = stor_code(f, 'STOR never.bin', blob)
R['allo'] = code(f.sendcmd, 'ALLO 1000')
R['nlst'] = f.nlst()
R['list_still_works'] = code(f.retrlines, 'LIST', lambda l: None)
f.quit()
`,
      fx.port,
    );
    expect(r).toEqual({ stor: '452', allo: '452', nlst: [], list_still_works: 'ok' });
  });

  it('452 in the middle of an upload when the disk fills meanwhile: what arrived is kept and resumes', async () => {
    free = 10 * MiB;
    dropAfter = 1; // the check before the 150 passes, the first one during the transfer does not
    const size = 3 * SPACE_CHECK_BYTES;
    const local = path.join(fx.base, 'big-upload.bin');
    const big = randomBytes(size);
    await writeFile(local, big);
    const first = await python(
      `
big = open(${JSON.stringify(local)}, 'rb').read()
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['stor'] = stor_code(f, 'STOR part.bin', big)
R['kept'] = f.size('part.bin')
R['prefix'] = get(f, 'part.bin') == big[:R['kept']]
R['noop'] = f.voidcmd('NOOP')[:3]
f.quit()
`,
      fx.port,
    );
    expect(first).toMatchObject({ stor: '452', prefix: true, noop: '200' });
    const kept = first.kept as number;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size);
    // space is back: the client resumes where the server stopped
    dropAfter = Number.POSITIVE_INFINITY;
    const second = await python(
      `
big = open(${JSON.stringify(local)}, 'rb').read()
f = plain()
f.login('alice', '${PASSWORDS.alice}')
src = io.BytesIO(big); src.seek(${kept})
R['resume'] = f.storbinary('STOR part.bin', src, rest=${kept})[:3]
f.quit()
`,
      fx.port,
    );
    expect(second).toEqual({ resume: '226' });
    expect((await readFile(path.join(fx.root, 'home/alice/part.bin'))).equals(big)).toBe(true);
  });
});

describe('ftp serve: ALLO measures the working directory, with ftplib', () => {
  let fx: Fixture;
  beforeAll(async () => {
    // a directory named "full" stands for a mount on a nearly full file system
    fx = await startFixture({
      limits: { minFreeBytes: 64 * MiB },
      freeSpace: (dir) => (path.basename(dir) === 'full' ? 10 * MiB : 1e12),
    });
  });
  afterAll(() => fx.cleanup());

  it('202 where there is room, 452 after CWD into the full one, and STOR there is refused too', async () => {
    const r = await python(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
f.mkd('full')
R['home'] = f.sendcmd('ALLO 1000')[:3]
f.cwd('full')
R['full'] = code(f.sendcmd, 'ALLO 1000')
R['stor'] = stor_code(f, 'STOR x.bin', b'x')
f.cwd('..')
R['back'] = f.sendcmd('ALLO 1000')[:3]
f.quit()
`,
      fx.port,
    );
    expect(r).toEqual({ home: '202', full: '452', stor: '452', back: '202' });
  });
});

describe('ftp serve: rate limits, with ftplib', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture({
      limits: { downloadRate: 400_000, uploadRate: 400_000, anonymousRate: 200_000 },
    });
    await writeFile(
      path.join(fx.root, 'pub/paced.bin'),
      Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + 3) % 256)),
    );
  });
  afterAll(() => fx.cleanup());

  it('downloads and uploads take at least size / rate, anonymous ones the lower anonymous rate, bytes intact', async () => {
    const r = await python(
      `
import time
f = plain()
f.login('alice', '${PASSWORDS.alice}')
t = time.monotonic(); R['up'] = f.storbinary('STOR up.bin', io.BytesIO(blob))[:3]; R['up_s'] = time.monotonic() - t
t = time.monotonic(); R['down_same'] = get(f, 'up.bin') == blob; R['down_s'] = time.monotonic() - t
f.quit()
a = plain()
a.login()
t = time.monotonic(); R['anon_same'] = get(a, 'pub/paced.bin') == blob; R['anon_s'] = time.monotonic() - t
t = time.monotonic(); R['list'] = len(a.nlst('pub')); R['list_s'] = time.monotonic() - t
a.quit()
`,
      fx.port,
    );
    expect(r).toMatchObject({ up: '226', down_same: true, anon_same: true });
    // 300,000 bytes: at 400,000 bytes/s at least ~0.6 s (a burst and the socket buffers ahead),
    // at the anonymous 200,000 at least ~1.2 s
    expect(r.up_s).toBeGreaterThan(0.5);
    expect(r.down_s).toBeGreaterThan(0.5);
    expect(r.anon_s).toBeGreaterThan(1.1);
  });
});
