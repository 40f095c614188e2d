/**
 * The FTP client (library and CLI) against OUR server: a real account, anonymous, FTPS with the
 * dev certificate, resume in both directions, mirror both ways, trace and progress events.
 */
import { mkdir, readFile, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { FtpClient, type FtpClientError, type FtpProgress } from '../../src/ftp/client.js';
import { mirrorDown, mirrorUp } from '../../src/ftp/client-mirror.js';
import { createFtpServer, type FtpServerHandle } from '../../src/ftp/server.js';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, sha256, treeDigest, writeTree } from './client-helpers.js';

const PW = 'carol-Secret-42';
let base: string;
let cleanup: () => Promise<void>;
let server: FtpServerHandle;
let home: string;
let root: string;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-'));
  root = path.join(base, 'ftp');
  const data = path.join(base, 'data');
  await new AccountStore(data).add('carol', PW);
  home = path.join(root, 'home/carol');
  await writeTree(root, { 'pub/hello.txt': 'hello, anonymous\n', 'home/carol/.keep': '' });
  server = await createFtpServer({
    root,
    dataDir: data,
    port: 0,
    loginFailureDelayMs: 0,
    maxLoginFailures: 0,
  });
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

const connect = (extra: Partial<Parameters<typeof FtpClient.connect>[0]> = {}) =>
  FtpClient.connect({ host: '127.0.0.1', port: server.port, user: 'carol', password: PW, ...extra });

describe('FtpClient against our server', () => {
  it('put, list, get, mkdir, rename, remove; trace masks PASS; progress reaches the size', async () => {
    const events: TraceEvent[] = [];
    const progress: FtpProgress[] = [];
    const client = await FtpClient.connect(
      { host: '127.0.0.1', port: server.port, user: 'carol', password: PW },
      (c) => c.on('trace', (ev: TraceEvent) => events.push(ev)),
    );
    client.on('progress', (p: FtpProgress) => progress.push(p));
    try {
      const body = pattern(200_000, 7);
      const local = path.join(base, 'up.bin');
      await writeFile(local, body);
      const put = await client.put(local, 'up.bin');
      expect(put).toMatchObject({ size: body.length, transferred: body.length, resumedFrom: 0 });
      expect(sha256(await readFile(path.join(home, 'up.bin')))).toBe(sha256(body));
      expect(progress.at(-1)).toMatchObject({ direction: 'upload', bytes: body.length, total: body.length });

      await client.mkdir('d1/d2', { parents: true });
      await client.mkdir('d1/d2', { parents: true }); // exists: no error
      await client.rename('up.bin', 'd1/d2/moved.bin');
      const listed = await client.list('d1/d2');
      expect(listed).toEqual([
        expect.objectContaining({ name: 'moved.bin', type: 'file', size: body.length }),
      ]);
      expect(listed[0]!.modifiedAt).toBeInstanceOf(Date);

      progress.length = 0;
      const dest = path.join(base, 'down.bin');
      const got = await client.get('d1/d2/moved.bin', dest, { mtime: true });
      expect(got).toMatchObject({ size: body.length, transferred: body.length, alreadyComplete: false });
      expect(sha256(await readFile(dest))).toBe(sha256(body));
      expect(progress.at(-1)).toMatchObject({
        direction: 'download',
        bytes: body.length,
        total: body.length,
      });
      await expect(stat(`${dest}.part`)).rejects.toThrow(); // renamed away
      expect(Math.floor((await stat(dest)).mtimeMs / 1000)).toBe(
        Math.floor(listed[0]!.modifiedAt!.getTime() / 1000),
      );

      await client.remove('d1/d2/moved.bin');
      await client.removeEmptyDir('d1/d2');
      await expect(client.list('d1')).resolves.toEqual([]);
      const err = (await client.get('nope.txt', path.join(base, 'nope')).catch((e) => e)) as FtpClientError;
      expect(err.code).toBe('NETKIT_PROTOCOL');
      expect(err.ftpCode).toBe(550);
      await expect(client.list('d1')).resolves.toEqual([]); // still usable after a 550
    } finally {
      client.close();
    }
    const text = events.map((e) => e.text).join('\n');
    expect(text).toContain('USER carol');
    expect(text).toContain('PASS ****');
    expect(text).not.toContain(PW);
    expect(events.some((e) => e.kind === 'in' && e.text.startsWith('230'))).toBe(true);
  });

  it('resumes an interrupted upload (APPE) and download (REST) byte-identically', async () => {
    const body = pattern(300_001, 3);
    const full = path.join(base, 'resume.bin');
    await writeFile(full, body);
    // an upload that stopped half-way: the server holds the first half
    await writeFile(path.join(home, 'resume.bin'), body.subarray(0, 150_000));
    const client = await connect();
    try {
      const up = await client.put(full, 'resume.bin', { resume: true });
      expect(up).toMatchObject({ resumedFrom: 150_000, transferred: body.length - 150_000 });
      expect(sha256(await readFile(path.join(home, 'resume.bin')))).toBe(sha256(body));
      await expect(client.put(full, 'resume.bin', { resume: true })).resolves.toMatchObject({
        alreadyComplete: true,
      });

      // a download that stopped half-way left FILE.part
      const dest = path.join(base, 'resumed-down.bin');
      await writeFile(`${dest}.part`, body.subarray(0, 100_000));
      const down = await client.get('resume.bin', dest, { resume: true });
      expect(down).toMatchObject({ resumedFrom: 100_000, transferred: body.length - 100_000 });
      expect(sha256(await readFile(dest))).toBe(sha256(body));
      await expect(client.get('resume.bin', dest, { resume: true })).resolves.toMatchObject({
        alreadyComplete: true,
      });
      // a shorter FILE (not .part) is continued too, like wget -c
      await truncate(dest, 12_345);
      await expect(client.get('resume.bin', dest, { resume: true })).resolves.toMatchObject({
        resumedFrom: 12_345,
      });
      expect(sha256(await readFile(dest))).toBe(sha256(body));
      // a part file longer than the server's file cannot be resumed
      await writeFile(`${dest}.part`, Buffer.concat([body, Buffer.from('extra')]));
      // a conflict, not a usage error: exit 1
      await expect(client.get('resume.bin', dest, { resume: true })).rejects.toMatchObject({
        code: 'NETKIT_EXISTS',
      });
      // a part file that is a symbolic link is never written through
      await rm(`${dest}.part`);
      const victim = path.join(base, 'victim.txt');
      await writeFile(victim, 'untouched');
      await symlink(victim, `${dest}.part`);
      for (const resume of [true, false])
        await expect(client.get('resume.bin', dest, { resume })).rejects.toMatchObject({ code: 'NETKIT_IO' });
      expect(await readFile(victim, 'utf8')).toBe('untouched');
    } finally {
      client.close();
    }
  });

  it('mirrors down and up with only-newer and delete; trees end identical', async () => {
    const T = new Date('2024-05-01T10:00:00Z');
    const src = path.join(base, 'site');
    await writeTree(src, {
      'index.html': '<h1>hi</h1>',
      'css/a.css': 'a{}',
      'img/x.bin': pattern(50_000, 9),
      'empty/.k': '',
    });
    for (const f of ['index.html', 'css/a.css', 'img/x.bin']) await utimes(path.join(src, f), T, T);
    const client = await connect();
    try {
      const up = await mirrorUp(client, src, 'site');
      expect(up.summary).toMatchObject({ transfers: 4, mkdirs: 3, deletes: 0 });
      expect(await treeDigest(path.join(home, 'site'))).toEqual(await treeDigest(src));
      // times were carried over (MFMT): a second run has nothing to do
      const again = await mirrorUp(client, src, 'site', { onlyNewer: true });
      expect(again.summary).toMatchObject({ transfers: 0, upToDate: 4 });

      const copy = path.join(base, 'copy');
      const down = await mirrorDown(client, 'site', copy);
      expect(down.summary.transfers).toBe(4);
      expect(await treeDigest(copy)).toEqual(await treeDigest(src));
      expect((await stat(path.join(copy, 'css/a.css'))).mtime.toISOString()).toBe(T.toISOString());

      // change the source: one file newer, one removed, one added
      await writeFile(path.join(src, 'index.html'), '<h1>hello again</h1>');
      await rm(path.join(src, 'css'), { recursive: true });
      await writeTree(src, { 'new/n.txt': 'n' });
      const up2 = await mirrorUp(client, src, 'site', { onlyNewer: true, delete: true });
      expect(up2.summary).toMatchObject({ transfers: 2, deletes: 2 });
      expect(await treeDigest(path.join(home, 'site'))).toEqual(await treeDigest(src));
      const down2 = await mirrorDown(client, 'site', copy, { onlyNewer: true, delete: true });
      expect(down2.summary).toMatchObject({ transfers: 2, deletes: 2, upToDate: 2 });
      expect(await treeDigest(copy)).toEqual(await treeDigest(src));
    } finally {
      client.close();
    }
  });

  it('logs in anonymously and gets a read-only refusal with its reply code', async () => {
    const client = await FtpClient.connect({ host: '127.0.0.1', port: server.port });
    try {
      expect((await client.list('')).map((e) => e.name)).toContain('pub');
      expect((await client.list('pub')).map((e) => e.name)).toContain('hello.txt');
      const f = path.join(base, 'anon.txt');
      await writeFile(f, 'x');
      const err = (await client.put(f, 'pub/anon.txt').catch((e) => e)) as FtpClientError;
      expect(err.code).toBe('NETKIT_PROTOCOL');
      expect([532, 550, 553]).toContain(err.ftpCode);
    } finally {
      client.close();
    }
  });
});

describe('netkit ftp CLI against our server', () => {
  it('wrong password: one clear error line, exit 1', async () => {
    const r = await netkit(['ftp', 'ls', `ftp://carol:wrong@127.0.0.1:${server.port}/`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^netkit: login failed for user "carol" at 127\.0\.0\.1:\d+: 530 /);
    expect(r.stderr).not.toContain('wrong');
  });

  it('put of a local file that does not exist says so, before connecting anywhere', async () => {
    // port 1: nothing listens there, so a connection attempt would be the error instead
    const r = await netkit(['ftp', 'put', path.join(base, 'no-such-file'), 'ftp://127.0.0.1:1/']);
    expect([r.code, r.stderr]).toEqual([
      1,
      `netkit: cannot read ${path.join(base, 'no-such-file')}: no such file\n`,
    ]);
  });

  it('FTPS (--tls --insecure): put, ls --json, get -o - ; without --insecure the dev cert is refused', async () => {
    const url = `ftp://carol@127.0.0.1:${server.port}/tls/`;
    const file = path.join(base, 'secret.bin');
    const body = pattern(70_000, 5);
    await writeFile(file, body);
    await mkdir(path.join(home, 'tls'), { recursive: true });
    const env = { NETKIT_PASSWORD: PW };
    const put = await netkit(['ftp', 'put', file, url, '--tls', '--insecure', '--trace'], { env, cwd: base });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toContain('AUTH TLS');
    expect(put.stderr).toContain('PROT P');
    expect(put.stderr).not.toContain(PW);
    expect(sha256(await readFile(path.join(home, 'tls/secret.bin')))).toBe(sha256(body));

    const ls = await netkit(['ftp', 'ls', url, '--tls', '--insecure', '--json'], { env, cwd: base });
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([
      expect.objectContaining({ name: 'secret.bin', type: 'file', size: body.length }),
    ]);

    const get = await netkit(
      ['ftp', 'get', `${url}secret.bin`, '-o', '-', '--tls', '--insecure', '--quiet'],
      {
        env,
        cwd: base,
      },
    );
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(get.stdoutBuf)).toBe(sha256(body));

    const strict = await netkit(['ftp', 'ls', url, '--tls'], { env, cwd: base });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(
      /^netkit: TLS certificate of 127\.0\.0\.1:\d+ not trusted \(self-signed certificate\); trust it with --ca FILE, or skip verification with --insecure\n$/,
    );
  });

  it('get and put --json: alreadyComplete false after a transfer, true when --continue had nothing to do', async () => {
    const url = `ftp://carol:${PW}@127.0.0.1:${server.port}/json/`;
    const masked = `ftp://carol:****@127.0.0.1:${server.port}/json/j.txt`;
    const file = path.join(base, 'j.txt');
    await writeFile(file, 'hello\n');
    await mkdir(path.join(home, 'json'), { recursive: true });
    const json = async (args: string[]) => {
      const r = await netkit(['ftp', ...args, '--json'], { cwd: base });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.endsWith('\n') && r.stdout.split('\n').length).toBe(2); // one line
      const o = JSON.parse(r.stdout) as Record<string, unknown>;
      // the documented fields, in that order (README: get --json and put --json)
      expect(Object.keys(o)).toEqual([
        'url',
        'path',
        'size',
        'transferred',
        'resumedFrom',
        'alreadyComplete',
        'ms',
      ]);
      return o;
    };
    const ran = { url: masked, size: 6, transferred: 6, resumedFrom: 0, alreadyComplete: false };
    const nothing = { url: masked, size: 6, transferred: 0, resumedFrom: 6, alreadyComplete: true };
    expect(await json(['put', file, url])).toMatchObject({ ...ran, path: 'json/j.txt' });
    expect(await json(['put', file, url, '--continue'])).toMatchObject({ ...nothing, path: 'json/j.txt' });
    const out = path.join(base, 'j-copy.txt');
    expect(await json(['get', `${url}j.txt`, '-o', out])).toMatchObject({ ...ran, path: out });
    expect(await readFile(out, 'utf8')).toBe('hello\n');
    expect(await json(['get', `${url}j.txt`, '-o', out, '--continue'])).toMatchObject({
      ...nothing,
      path: out,
    });
  });

  it('--max-filesize is for downloads: put does not take it (exit 2), mirror --reverse refuses it', async () => {
    const tree = path.join(base, 'six');
    const file = path.join(tree, 'six.txt');
    await mkdir(tree);
    await writeFile(file, 'hello\n');
    const url = `ftp://carol:${PW}@127.0.0.1:${server.port}/`;
    const put = await netkit(['ftp', 'put', file, url, '--max-filesize', '1']);
    expect([put.code, put.stderr]).toEqual([2, "netkit: unknown option '--max-filesize'\n"]);
    await expect(stat(path.join(home, 'six.txt'))).rejects.toThrow(); // nothing uploaded
    const mirror = await netkit(['ftp', 'mirror', '--reverse', tree, `${url}up/`, '--max-filesize', '1']);
    expect([mirror.code, mirror.stderr]).toEqual([
      2,
      'netkit: --max-filesize limits downloads; mirror --reverse uploads\n',
    ]);
    await expect(stat(path.join(home, 'up'))).rejects.toThrow();
    // where it applies, it is offered, and the help says what it does
    for (const cmd of ['get', 'mirror', 'shell']) {
      const help = await netkit(['ftp', cmd, '--help']);
      expect(help.stdout, cmd).toMatch(/--max-filesize <size> +refuse to download a file larger than SIZE/);
    }
    expect((await netkit(['ftp', 'put', '--help'])).stdout).not.toContain('--max-filesize');
  });

  it('mirror --help has examples', async () => {
    const r = await netkit(['ftp', 'mirror', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--only-newer');
  });
});
