/**
 * Interop: the netkit FTP client CLI against Debian's vsftpd (C, the FTP server most Linux
 * distributions ship), anonymous, passive mode: listings, byte-identical downloads (also to stdout
 * and resumed with REST), uploads, mkdir / mv / rm, and a mirror of a tree. vsftpd has no MLSD,
 * and answers LIST of a missing directory with an empty listing: what LIST-only servers need
 * (missing directories, times from MDTM, resumed part files) is checked here.
 */
import { chmod, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, sha256, startVsftpd, treeDigest, writeTree } from './client-helpers.js';

let base: string;
let cleanup: () => Promise<void>;
let root: string;
let vs: Awaited<ReturnType<typeof startVsftpd>>;
let url: string;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-vsftpd-'));
  await chmod(base, 0o755);
  root = path.join(base, 'root');
  await writeTree(path.join(root, 'pub'), {
    'readme.txt': 'served by vsftpd\n',
    'data.bin': pattern(1_500_000, 21),
    'tree/a.txt': 'a\n',
    'tree/sub/b.bin': pattern(70_000, 22),
    'tree/sub/deeper/c.txt': 'c\n',
  });
  await writeTree(path.join(root, 'more'), {
    'times/a.txt': 'a\n',
    'times/d1/b.txt': 'bb\n',
    'big/big.bin': pattern(900_000, 24),
    '100%.txt': 'pct\n',
  });
  await mkdir(path.join(root, 'incoming'));
  await chmod(path.join(root, 'incoming'), 0o777);
  vs = await startVsftpd(root, base);
  url = `ftp://127.0.0.1:${vs.port}`;
});

afterAll(async () => {
  await vs?.stop();
  await cleanup?.();
});

describe('netkit ftp against vsftpd', () => {
  it('ls and ls -l of a directory', async () => {
    const ls = await netkit(['ftp', 'ls', `${url}/pub/`]);
    expect(ls.code, ls.stderr + vs.stderr()).toBe(0);
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(['data.bin', 'readme.txt', 'tree/']);
    const long = await netkit(['ftp', 'ls', '-l', `${url}/pub/`]);
    expect(long.stdout).toMatch(/^-\S+\s+1500000\s.*\sdata\.bin$/m);
  });

  it('get is byte-identical, to a file and to stdout; --continue resumes with REST', async () => {
    const out = path.join(base, 'down');
    await mkdir(out);
    const get = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', `${out}/`]);
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(path.join(out, 'data.bin')))).toBe(sha256(pattern(1_500_000, 21)));
    const cat = await netkit(['ftp', 'get', `${url}/pub/readme.txt`, '-o', '-']);
    expect(cat.stdout).toBe('served by vsftpd\n');
    const resumed = path.join(out, 'again.bin');
    await writeFile(`${resumed}.part`, pattern(1_500_000, 21).subarray(0, 600_000));
    const cont = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', resumed, '--continue']);
    expect(cont.code, cont.stderr).toBe(0);
    expect(cont.stderr).toMatch(/resumed at 585\.9 KiB/);
    expect(sha256(await readFile(resumed))).toBe(sha256(pattern(1_500_000, 21)));
    await expect(stat(`${resumed}.part`)).rejects.toThrow();
  });

  it('put, mkdir, mv and rm in the writable incoming/', async () => {
    const body = pattern(300_000, 23);
    const src = path.join(base, 'upload.bin');
    await writeFile(src, body);
    const put = await netkit(['ftp', 'put', src, `${url}/incoming/`]);
    expect(put.code, put.stderr + vs.stderr()).toBe(0);
    expect(sha256(await readFile(path.join(root, 'incoming', 'upload.bin')))).toBe(sha256(body));
    expect((await netkit(['ftp', 'mkdir', `${url}/incoming/box`])).code).toBe(0);
    // relative to the URL's directory (vsftpd here runs without chroot: '/' is the real root)
    const mv = await netkit(['ftp', 'mv', `${url}/incoming/upload.bin`, 'box/moved.bin']);
    expect(mv.code, mv.stderr).toBe(0);
    expect(sha256(await readFile(path.join(root, 'incoming', 'box', 'moved.bin')))).toBe(sha256(body));
    const rm = await netkit(['ftp', 'rm', `${url}/incoming/box/moved.bin`]);
    expect(rm.code, rm.stderr).toBe(0);
    await expect(stat(path.join(root, 'incoming', 'box', 'moved.bin'))).rejects.toThrow();
  });

  it('--active (PORT): get, put and mirror; vsftpd connects back to us', async () => {
    const out = path.join(base, 'active');
    await mkdir(out);
    const get = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', `${out}/`, '--active', '--trace']);
    expect(get.code, get.stderr + vs.stderr()).toBe(0);
    expect(get.stderr).toMatch(/C: PORT 127,0,0,1,\d+,\d+\n.*S: 200 PORT command successful/);
    expect(get.stderr).toMatch(/active data connection from 127\.0\.0\.1:\d+/);
    expect(sha256(await readFile(path.join(out, 'data.bin')))).toBe(sha256(pattern(1_500_000, 21)));
    const body = pattern(500_000, 25);
    await writeFile(path.join(out, 'active.bin'), body);
    const put = await netkit(['ftp', 'put', path.join(out, 'active.bin'), `${url}/incoming/`, '--active']);
    expect(put.code, put.stderr + vs.stderr()).toBe(0);
    expect(sha256(await readFile(path.join(root, 'incoming', 'active.bin')))).toBe(sha256(body));
    const copy = path.join(out, 'tree');
    const mirror = await netkit(['ftp', 'mirror', `${url}/pub/tree/`, copy, '--active']);
    expect(mirror.code, mirror.stderr).toBe(0);
    expect(await treeDigest(copy)).toEqual(await treeDigest(path.join(root, 'pub', 'tree')));
  });

  it('mirror copies a nested tree down, identical', async () => {
    const copy = path.join(base, 'mirror');
    const r = await netkit(['ftp', 'mirror', `${url}/pub/tree/`, copy]);
    expect(r.code, r.stderr).toBe(0);
    expect(await treeDigest(copy)).toEqual(await treeDigest(path.join(root, 'pub', 'tree')));
  });
});

describe('LIST-only server: a missing remote directory is never an empty one', () => {
  it('mirror --delete of a missing directory fails and deletes nothing', async () => {
    const local = path.join(base, 'keep');
    await writeTree(local, { 'precious.txt': 'precious\n', 'keep/k': 'k\n' });
    const before = await treeDigest(local);
    const r = await netkit(['ftp', 'mirror', `${url}/pub/tpyo/`, local, '--delete']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('netkit: list pub/tpyo: 550 Failed to change directory.\n');
    expect(r.stdout).toBe('');
    expect(await treeDigest(local)).toEqual(before);
  });

  it('mirror of a missing directory or of a file creates no local directory', async () => {
    const missing = path.join(base, 'not-created');
    const r = await netkit(['ftp', 'mirror', `${url}/pub/tpyo/`, missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: list pub\/tpyo: 550 .*\n$/);
    const file = await netkit(['ftp', 'mirror', `${url}/pub/readme.txt`, missing]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/^netkit: list pub\/readme\.txt: 550 .*\n$/);
    await expect(stat(missing)).rejects.toThrow();
  });

  it('ls of a missing directory fails with one line; an empty one lists nothing', async () => {
    const r = await netkit(['ftp', 'ls', `${url}/pub/tpyo/`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('netkit: list pub/tpyo/: 550 Failed to change directory.\n');
    await mkdir(path.join(root, 'pub', 'empty'), { recursive: true });
    const empty = await netkit(['ftp', 'ls', `${url}/pub/empty/`]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe('');
  });
});

describe('LIST-only server: mirror times from MDTM', () => {
  it('keeps the server times and sees a change of the same size', async () => {
    const src = path.join(root, 'more', 'times');
    const t2020 = new Date('2020-01-01T00:00:00Z');
    await utimes(path.join(src, 'a.txt'), t2020, t2020);
    const copy = path.join(base, 'times-copy');
    const first = await netkit(['ftp', 'mirror', `${url}/more/times/`, copy]);
    expect(first.code, first.stderr).toBe(0);
    expect((await stat(path.join(copy, 'a.txt'))).mtime.toISOString()).toBe(t2020.toISOString());
    const srcB = await stat(path.join(src, 'd1', 'b.txt'));
    expect(Math.floor((await stat(path.join(copy, 'd1', 'b.txt'))).mtimeMs / 1000)).toBe(
      Math.floor(srcB.mtimeMs / 1000),
    );
    // same size, new content, newer time
    await writeFile(path.join(src, 'a.txt'), 'b\n');
    const t2021 = new Date('2021-01-01T00:00:00Z');
    await utimes(path.join(src, 'a.txt'), t2021, t2021);
    const again = await netkit(['ftp', 'mirror', `${url}/more/times/`, copy]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/downloaded 1 file .*1 up to date/);
    expect(await readFile(path.join(copy, 'a.txt'), 'utf8')).toBe('b\n');
    const third = await netkit(['ftp', 'mirror', `${url}/more/times/`, copy, '--only-newer']);
    expect(third.stdout).toMatch(/downloaded 0 files .*2 up to date/);
  });

  it('ls -l labels LIST times as the server time, not UTC', async () => {
    const long = await netkit(['ftp', 'ls', '-l', `${url}/pub/`]);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).toMatch(/^-\S+\s+17\s+\w{3} [ \d]\d +[\d:]+\s+\(server time\)\s+readme\.txt$/m);
    expect(long.stdout).not.toContain('UTC');
  });
});

it('mirror continues a part file left by an interrupted run (REST), not from the start', async () => {
  const body = pattern(900_000, 24);
  const old = new Date('2020-06-01T00:00:00Z');
  await utimes(path.join(root, 'more', 'big', 'big.bin'), old, old);
  const copy = path.join(base, 'big-copy');
  await mkdir(copy);
  await writeFile(path.join(copy, 'big.bin.part'), body.subarray(0, 400_000)); // written now: after `old`
  const r = await netkit(['ftp', 'mirror', `${url}/more/big/`, copy, '--trace', '--delete']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/REST 400000/);
  expect(sha256(await readFile(path.join(copy, 'big.bin')))).toBe(sha256(body));
  expect(await readdir(copy)).toEqual(['big.bin']);
  expect((await stat(path.join(copy, 'big.bin'))).mtime.toISOString()).toBe(old.toISOString());
});

it('URL nits: a stray % is literal; ;type=i is understood and ;type=a refused clearly', async () => {
  const pct = await netkit(['ftp', 'get', `${url}/more/100%.txt`, '-o', '-']);
  expect(pct.code, pct.stderr).toBe(0);
  expect(pct.stdout).toBe('pct\n');
  const typed = await netkit(['ftp', 'get', `${url}/pub/readme.txt;type=i`, '-o', '-']);
  expect(typed.code, typed.stderr).toBe(0);
  expect(typed.stdout).toBe('served by vsftpd\n');
  const ascii = await netkit(['ftp', 'get', `${url}/pub/readme.txt;type=a`, '-o', '-']);
  expect(ascii.code).toBe(2);
  expect(ascii.stderr).toMatch(/ASCII transfers \(;type=a\) are not supported/);
});

it('--tls against vsftpd without TLS: the server does not offer TLS, not "login failed"', async () => {
  const r = await netkit(['ftp', 'ls', `${url}/pub/`, '--tls']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /^netkit: connect 127\.0\.0\.1:\d+: the server does not offer TLS \(AUTH TLS refused: 5\d\d .*\)\n$/,
  );
});
