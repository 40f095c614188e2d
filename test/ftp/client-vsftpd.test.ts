/**
 * Interop: the netkit FTP client CLI against Debian's vsftpd (C, the FTP server most Linux
 * distributions ship), anonymous, passive mode: listings, byte-identical downloads (also to stdout
 * and resumed with REST), uploads, mkdir / mv / rm, and a mirror of a tree.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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

  it('mirror copies a nested tree down, identical', async () => {
    const copy = path.join(base, 'mirror');
    const r = await netkit(['ftp', 'mirror', `${url}/pub/tree/`, copy]);
    expect(r.code, r.stderr).toBe(0);
    expect(await treeDigest(copy)).toEqual(await treeDigest(path.join(root, 'pub', 'tree')));
  });
});
