/**
 * Interop: the netkit FTP client CLI against Debian's pure-ftpd (C, privilege-separated; MLSD,
 * MFMT, explicit FTPS), logged in as a virtual user chrooted into a temporary tree, passive mode:
 * MLSD listings (names, types, sizes, UTC times from a server in another time zone), byte-identical
 * downloads (to a file, to stdout, resumed with REST), uploads (also resumed with APPE), mkdir / mv /
 * rm, mirrors in both directions, names with spaces and `%`, the same over AUTH TLS with the
 * certificate trusted through --ca, a wrong password, and pure-ftpd's listing limit (a listing cut
 * short must never pass for the whole directory).
 */
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, tempDir } from '../helpers/net.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';
import { startPureFtpd } from '../helpers/pure-ftpd.js';
import { pattern, sha256, treeDigest, writeTree } from './client-helpers.js';

let base: string;
let cleanup: () => Promise<void>;
let root: string;
let pf: Awaited<ReturnType<typeof startPureFtpd>>;
let url: string;
let caFile: string;
let tlsPem: { cert: string; key: string };
let env: NodeJS.ProcessEnv;

const DATA = pattern(1_500_000, 31);
const T2020 = new Date('2020-01-02T03:04:05Z');
/** more entries than the server's listing limit below */
const MANY = 30;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-pureftpd-'));
  root = path.join(base, 'root');
  const many: Record<string, string> = {};
  for (let i = 1; i <= MANY; i++) many[`many/f${String(i).padStart(2, '0')}.txt`] = `${i}\n`;
  await writeTree(root, {
    'pub/readme.txt': 'served by pure-ftpd\n',
    'pub/data.bin': DATA,
    'pub/with space.txt': 'spaced\n',
    'pub/100%.txt': 'pct\n',
    'pub/tree/a.txt': 'a\n',
    'pub/tree/.dot': 'dot file\n',
    'pub/tree/sub/b.bin': pattern(70_000, 32),
    'pub/tree/sub/deeper/c d%.txt': 'c\n',
    ...many,
  });
  await mkdir(path.join(root, 'incoming'));
  await utimes(path.join(root, 'pub', 'readme.txt'), T2020, T2020);
  const { certFile, keyFile } = await opensslCertificate(base);
  caFile = certFile;
  tlsPem = { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  pf = await startPureFtpd(root, base, {
    tls: tlsPem,
    tz: '<+05>-5', // five hours east of UTC: MLSD and MDTM times must still come out in UTC
    listLimit: 20,
  });
  url = `ftp://${pf.user}@127.0.0.1:${pf.port}`;
  env = { NETKIT_PASSWORD: pf.password };
});

afterAll(async () => {
  await pf?.stop();
  await cleanup?.();
});

describe('netkit ftp against pure-ftpd', () => {
  it('ls, ls -l and --json over MLSD: names, types, sizes and UTC times', async () => {
    const ls = await netkit(['ftp', 'ls', `${url}/pub/`, '--trace'], { env });
    expect(ls.code, ls.stderr + pf.stderr()).toBe(0);
    expect(ls.stderr).toContain('C: MLSD pub/');
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual([
      '100%.txt',
      'data.bin',
      'readme.txt',
      'tree/',
      'with space.txt',
    ]);
    const json = await netkit(['ftp', 'ls', `${url}/pub/`, '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    const entries = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('readme.txt')).toEqual({
      name: 'readme.txt',
      type: 'file',
      size: 20,
      modifiedAt: T2020.toISOString(),
      permissions: 'rw-r--r--',
    });
    expect(byName.get('data.bin')).toMatchObject({ type: 'file', size: 1_500_000 });
    expect(byName.get('tree')).toMatchObject({ type: 'dir' });
    const mtime = (await stat(path.join(root, 'pub', 'data.bin'))).mtime;
    mtime.setMilliseconds(0);
    expect(byName.get('data.bin')?.modifiedAt).toBe(mtime.toISOString());
    const long = await netkit(['ftp', 'ls', '-l', `${url}/pub/`], { env });
    expect(long.stdout).toMatch(/^-rw-r--r--\s+20\s+2020-01-02 03:04 UTC\s+readme\.txt$/m);
    expect(long.stdout).toMatch(/^-rw-r--r--\s+1500000\s.*UTC\s+data\.bin$/m);
    expect(long.stdout).toMatch(/^drwxr-xr-x\s+\d+\s.*UTC\s+tree\/$/m);
  });

  it('get is byte-identical, to a file and to stdout, with the server time; --continue resumes with REST', async () => {
    const out = path.join(base, 'down');
    await mkdir(out);
    const get = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', `${out}/`], { env });
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(path.join(out, 'data.bin')))).toBe(sha256(DATA));
    const readme = await netkit(['ftp', 'get', `${url}/pub/readme.txt`, '-o', `${out}/`], { env });
    expect(readme.code, readme.stderr).toBe(0);
    expect((await stat(path.join(out, 'readme.txt'))).mtime.toISOString()).toBe(T2020.toISOString());
    const cat = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', '-'], { env });
    expect(cat.code, cat.stderr).toBe(0);
    expect(sha256(cat.stdoutBuf)).toBe(sha256(DATA));
    const resumed = path.join(out, 'again.bin');
    await writeFile(`${resumed}.part`, DATA.subarray(0, 600_000));
    const cont = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', resumed, '--continue', '--trace'], {
      env,
    });
    expect(cont.code, cont.stderr).toBe(0);
    expect(cont.stderr).toContain('C: REST 600000');
    expect(cont.stderr).toMatch(/resumed at 585\.9 KiB/);
    expect(sha256(await readFile(resumed))).toBe(sha256(DATA));
    await expect(stat(`${resumed}.part`)).rejects.toThrow();
  });

  it('put is byte-identical; --continue appends the missing tail with APPE', async () => {
    const body = pattern(300_000, 33);
    const src = path.join(base, 'upload.bin');
    await writeFile(src, body);
    const put = await netkit(['ftp', 'put', src, `${url}/incoming/`], { env });
    expect(put.code, put.stderr + pf.stderr()).toBe(0);
    expect(sha256(await readFile(path.join(root, 'incoming', 'upload.bin')))).toBe(sha256(body));
    // an upload interrupted after 100,000 bytes
    const half = path.join(base, 'half.bin');
    await writeFile(half, body);
    await writeFile(path.join(root, 'incoming', 'half.bin'), body.subarray(0, 100_000));
    await pf.sync();
    const cont = await netkit(['ftp', 'put', half, `${url}/incoming/`, '--continue', '--trace'], { env });
    expect(cont.code, cont.stderr).toBe(0);
    expect(cont.stderr).toContain('C: APPE incoming/half.bin');
    expect(cont.stderr).toMatch(/resumed at 97\.7 KiB/);
    expect(sha256(await readFile(path.join(root, 'incoming', 'half.bin')))).toBe(sha256(body));
  });

  it('mkdir, mkdir -p, mv (relative and absolute), rm and rm -r', async () => {
    await writeFile(path.join(root, 'incoming', 'm.txt'), 'move me\n');
    await pf.sync();
    const mk = await netkit(['ftp', 'mkdir', `${url}/incoming/box`], { env });
    expect(mk.code, mk.stderr).toBe(0);
    const deep = await netkit(['ftp', 'mkdir', '-p', `${url}/incoming/box/x/y/`], { env });
    expect(deep.code, deep.stderr).toBe(0);
    expect((await stat(path.join(root, 'incoming', 'box', 'x', 'y'))).isDirectory()).toBe(true);
    // relative to the URL's directory
    const mv = await netkit(['ftp', 'mv', `${url}/incoming/m.txt`, 'box/moved.txt'], { env });
    expect(mv.code, mv.stderr).toBe(0);
    expect(await readFile(path.join(root, 'incoming', 'box', 'moved.txt'), 'utf8')).toBe('move me\n');
    // absolute: '/' is the chroot, the user's root
    const abs = await netkit(['ftp', 'mv', `${url}/incoming/box/moved.txt`, '/incoming/box/x/y/z.txt'], {
      env,
    });
    expect(abs.code, abs.stderr).toBe(0);
    expect(await readFile(path.join(root, 'incoming', 'box', 'x', 'y', 'z.txt'), 'utf8')).toBe('move me\n');
    const rm = await netkit(['ftp', 'rm', `${url}/incoming/box/x/y/z.txt`], { env });
    expect(rm.code, rm.stderr).toBe(0);
    await expect(stat(path.join(root, 'incoming', 'box', 'x', 'y', 'z.txt'))).rejects.toThrow();
    const rmr = await netkit(['ftp', 'rm', '-r', `${url}/incoming/box/`], { env });
    expect(rmr.code, rmr.stderr).toBe(0);
    expect(rmr.stdout).toMatch(/^removed .*\/incoming\/box\/ \(3 entries\)$/m);
    await expect(stat(path.join(root, 'incoming', 'box'))).rejects.toThrow();
  });

  it('names with spaces and %: get, put and ls', async () => {
    const spaced = await netkit(['ftp', 'get', `${url}/pub/with space.txt`, '-o', '-'], { env });
    expect(spaced.code, spaced.stderr).toBe(0);
    expect(spaced.stdout).toBe('spaced\n');
    const encoded = await netkit(['ftp', 'get', `${url}/pub/with%20space.txt`, '-o', '-'], { env });
    expect(encoded.stdout).toBe('spaced\n');
    const pct = await netkit(['ftp', 'get', `${url}/pub/100%.txt`, '-o', '-'], { env });
    expect(pct.code, pct.stderr).toBe(0);
    expect(pct.stdout).toBe('pct\n');
    expect((await netkit(['ftp', 'get', `${url}/pub/100%25.txt`, '-o', '-'], { env })).stdout).toBe('pct\n');
    const src = path.join(base, 'my file 50%.txt');
    await writeFile(src, 'half\n');
    const put = await netkit(['ftp', 'put', src, `${url}/incoming/`], { env });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toMatch(/^uploaded ftp:\/\/bob@127\.0\.0\.1:\d+\/incoming\/my%20file%2050%25\.txt /m);
    expect(await readFile(path.join(root, 'incoming', 'my file 50%.txt'), 'utf8')).toBe('half\n');
    const ls = await netkit(['ftp', 'ls', `${url}/incoming/`], { env });
    expect(ls.stdout.split('\n')).toContain('my file 50%.txt');
  });

  it('mirror down and up: identical trees, and nothing to do the second time', async () => {
    const copy = path.join(base, 'mirror');
    const down = await netkit(['ftp', 'mirror', `${url}/pub/tree/`, copy], { env });
    expect(down.code, down.stderr).toBe(0);
    expect(await treeDigest(copy)).toEqual(await treeDigest(path.join(root, 'pub', 'tree')));
    expect(Object.keys(await treeDigest(copy))).toContain('sub/deeper/c d%.txt');
    const again = await netkit(['ftp', 'mirror', `${url}/pub/tree/`, copy], { env });
    expect(again.stdout).toMatch(/downloaded 0 files .*4 up to date/);

    const local = path.join(base, 'site');
    await writeTree(local, {
      'index.html': '<h1>site</h1>\n',
      'img/logo 1%.bin': pattern(50_000, 34),
      'img/deep/x.txt': 'x\n',
    });
    const up = await netkit(['ftp', 'mirror', '--reverse', local, `${url}/incoming/site/`], { env });
    expect(up.code, up.stderr + pf.stderr()).toBe(0);
    expect(up.stdout).toMatch(/uploaded 3 files .*2 new dirs/);
    expect(await treeDigest(path.join(root, 'incoming', 'site'))).toEqual(await treeDigest(local));
    // MFMT set the server's times: the next run finds everything current
    const same = await netkit(['ftp', 'mirror', '--reverse', local, `${url}/incoming/site/`], { env });
    expect(same.stdout).toMatch(/uploaded 0 files .*3 up to date/);
  });

  it("a wrong password: one line, exit 1 (after pure-ftpd's delay of a few seconds)", async () => {
    const r = await netkit(['ftp', 'ls', `${url}/pub/`, '--password', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `netkit: login failed for user "bob" at 127.0.0.1:${pf.port}: 530 Login authentication failed\n`,
    );
    expect(r.stdout).toBe('');
  });
});

describe('explicit FTPS (AUTH TLS) against pure-ftpd', () => {
  it('get, put and ls over TLS with the certificate trusted through --ca', async () => {
    const tls = ['--tls', '--ca', caFile];
    const out = path.join(base, 'tls-down.bin');
    const get = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', out, ...tls, '--trace'], { env });
    expect(get.code, get.stderr + pf.stderr()).toBe(0);
    expect(get.stderr).toContain('C: AUTH TLS');
    expect(get.stderr).toMatch(/S: 234 /);
    expect(get.stderr).toContain('C: PROT P');
    expect(get.stderr).toContain('S: 200 Data protection level set to "private"');
    expect(get.stderr).toMatch(/Downloading from 127\.0\.0\.1:\d+ \(TLSv1\.[23]\)/);
    expect(sha256(await readFile(out))).toBe(sha256(DATA));

    const body = pattern(200_000, 35);
    const src = path.join(base, 'tls-up.bin');
    await writeFile(src, body);
    const put = await netkit(['ftp', 'put', src, `${url}/incoming/`, ...tls], { env });
    expect(put.code, put.stderr).toBe(0);
    expect(sha256(await readFile(path.join(root, 'incoming', 'tls-up.bin')))).toBe(sha256(body));

    const ls = await netkit(['ftp', 'ls', `${url}/pub/tree/`, ...tls], { env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toBe('.dot\na.txt\nsub/\n');
  });

  it('--active over TLS: pure-ftpd connects, we are the TLS client and resume its session', async () => {
    const tls = ['--tls', '--ca', caFile, '--active'];
    const out = path.join(base, 'tls-active.bin');
    const get = await netkit(['ftp', 'get', `${url}/pub/data.bin`, '-o', out, ...tls, '--trace'], { env });
    expect(get.code, get.stderr + pf.stderr()).toBe(0);
    expect(get.stderr).toMatch(/C: PORT 127,0,0,1,\d+,\d+/);
    expect(get.stderr).toMatch(/active data connection from 127\.0\.0\.1:\d+ \(TLSv1\.[23]\)/);
    expect(sha256(await readFile(out))).toBe(sha256(DATA));
    const body = pattern(300_000, 36);
    const src = path.join(base, 'tls-active-up.bin');
    await writeFile(src, body);
    const put = await netkit(['ftp', 'put', src, `${url}/incoming/`, ...tls], { env });
    expect(put.code, put.stderr + pf.stderr()).toBe(0);
    expect(sha256(await readFile(path.join(root, 'incoming', 'tls-active-up.bin')))).toBe(sha256(body));
    const ls = await netkit(['ftp', 'ls', `${url}/pub/tree/`, ...tls], { env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toBe('.dot\na.txt\nsub/\n');
  });

  it('without --ca the certificate is not trusted: one line, exit 1', async () => {
    const r = await netkit(['ftp', 'ls', `${url}/pub/`, '--tls'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^netkit: TLS certificate of 127\.0\.0\.1:\d+ not trusted \(.*\); trust it with --ca FILE, or skip verification with --insecure\n$/,
    );
  });
});

it('a server that refuses cleartext (-Y 2): its reason in one line; --tls works', async () => {
  const strict = await startPureFtpd(root, path.join(base, 'strict'), { tls: tlsPem, tlsRequired: true });
  try {
    const strictUrl = `ftp://${strict.user}@127.0.0.1:${strict.port}/pub/readme.txt`;
    const plain = await netkit(['ftp', 'get', strictUrl, '-o', '-'], { env });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(
      /^netkit: connect 127\.0\.0\.1:\d+: 421-Sorry, cleartext sessions .* not accepted on this server\. 421 Please reconnect using TLS security mechanisms\.\n$/,
    );
    const tls = await netkit(['ftp', 'get', strictUrl, '-o', '-', '--tls', '--ca', caFile], { env });
    expect(tls.code, tls.stderr + strict.stderr()).toBe(0);
    expect(tls.stdout).toBe('served by pure-ftpd\n');
  } finally {
    await strict.stop();
  }
});

describe("pure-ftpd's listing limit: a listing cut short is an error, never the whole directory", () => {
  it('ls fails with the server reply', async () => {
    const r = await netkit(['ftp', 'ls', `${url}/many/`], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'netkit: list many/: the server sent only part of the listing (226 Output truncated to 20 matches)\n',
    );
  });

  it('mirror --delete deletes nothing of a local copy that the server did not list', async () => {
    const copy = path.join(base, 'many-copy');
    const files: Record<string, string> = {};
    for (let i = 1; i <= MANY; i++) files[`f${String(i).padStart(2, '0')}.txt`] = `${i}\n`;
    await writeTree(copy, files);
    const before = await treeDigest(copy);
    const r = await netkit(['ftp', 'mirror', `${url}/many/`, copy, '--delete'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^netkit: list many: the server sent only part of the listing \(226 Output truncated/,
    );
    expect(await treeDigest(copy)).toEqual(before);
  });
});
