/**
 * `netkit download --continue` after a single-stream download was killed with SIGKILL (no handler
 * runs, nothing is saved on the way out), as a user expects of wget -c and curl -C -: when the
 * server does ranges and the file is the same (If-Range; FTP: REST after MDTM), go on from the
 * `.part`'s length; otherwise start over and say so. The CLI runs from dist; each first run is
 * killed once the `.part` holds the bytes the test waits for (watched with fs.watch, no timers).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killWhenOnDisk, lengthOf, netkit, tempDir } from '../helpers/net.js';
import { type ScriptedServer, scriptedServer, serveRanges } from './download-servers.js';

const KiB = 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function workDir(): Promise<string> {
  const t = await tempDir('netkit-dl-resume-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `bytes=N-` (what a resumed stream asks). */
function openRange(h: string | undefined): number | undefined {
  const m = /^bytes=(\d+)-$/.exec(h ?? '');
  return m ? Number(m[1]) : undefined;
}

interface Version {
  data: Buffer;
  etag: string;
}

/**
 * A server whose HEAD gives no size (a dynamic handler, say), so the download is one stream. The
 * first GET sends `stallAt` bytes of the body and then nothing (until the client is gone); later
 * ones answer `Range: bytes=N-` with a 206 when If-Range still names the current version (416 when
 * nothing is left), else a 200. `current()` is the version served now; `chunked` leaves out every
 * Content-Length (the size is then known only from a 206's Content-Range).
 */
async function streamServer(opts: {
  current: () => Version;
  stallAt: number;
  chunked: boolean;
  headValidators?: boolean;
}): Promise<ScriptedServer> {
  const s = await scriptedServer((req, res, { count }) => {
    const { data, etag } = opts.current();
    const headers = { 'accept-ranges': 'bytes', etag };
    const length = (n: number) => (opts.chunked ? {} : { 'content-length': n });
    if (req.method === 'HEAD') {
      res.writeHead(200, opts.headValidators === false ? {} : headers);
      return res.end();
    }
    const from = openRange(req.headers.range);
    const ifRange = req.headers['if-range'];
    if (count === 2) {
      res.writeHead(200, { ...headers, ...length(data.length) });
      res.write(data.subarray(0, opts.stallAt));
      return; // stalled: the client is killed meanwhile
    }
    if (from !== undefined && (ifRange === undefined || ifRange === etag)) {
      if (from >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        return res.end();
      }
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${from}-${data.length - 1}/${data.length}`,
        ...length(data.length - from),
      });
      return res.end(data.subarray(from));
    }
    res.writeHead(200, { ...headers, ...length(data.length) });
    res.end(data);
  });
  cleanups.push(() => s.close());
  return s;
}

describe('download --continue after a single stream was killed (SIGKILL)', () => {
  it.each([
    ['no size anywhere (chunked), known from the 206', true],
    ['the size only in the GET (Content-Length)', false],
  ])('%s: goes on from the .part with Range + If-Range', async (_name, chunked) => {
    const v1 = { data: randomBytes(300 * KiB), etag: '"v1"' };
    const N = 100_000;
    const s = await streamServer({ current: () => v1, stallAt: N, chunked });
    const out = path.join(await workDir(), 'out');
    await mkdir(out);
    const part = path.join(out, 'file.bin.part');
    const killed = await killWhenOnDisk(['download', '--quiet', '-d', out, s.url], part, N);
    expect(killed.signal).toBe('SIGKILL');
    // written in order and never set to its full length ahead: the .part's length is the progress
    expect(await lengthOf(part)).toBe(N);
    expect((await readdir(out)).sort()).toEqual(['file.bin.part', 'file.bin.part.netkit']);

    // without --continue the kept bytes are not thrown away silently
    const plain = await netkit(['download', '--quiet', '-d', out, s.url]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/holds 97\.7 KiB of an earlier run of this download: add --continue/);

    const r = await netkit(['download', '--continue', '--json', '--quiet', '--trace', '-d', out, s.url]);
    expect(r.code, r.stderr).toBe(0);
    const known = chunked ? '' : ` of ${v1.data.length}`;
    expect(r.stderr).toContain(`resuming: ${N}${known} bytes already in file.bin.part`);
    expect(JSON.parse(r.stdout)).toMatchObject({
      mode: 'single',
      size: v1.data.length,
      resumedBytes: N,
      bytesFetched: v1.data.length - N,
    });
    expect(s.requests.at(-1)).toEqual({ method: 'GET', range: `bytes=${N}-`, ifRange: '"v1"' });
    expect(sha256(await readFile(path.join(out, 'file.bin')))).toBe(sha256(v1.data));
    expect(await readdir(out)).toEqual(['file.bin']);
  });

  it('the file changed meanwhile: If-Range answers 200, and it starts over and says so', async () => {
    const v1 = { data: randomBytes(200 * KiB), etag: '"v1"' };
    const v2 = { data: randomBytes(150 * KiB), etag: '"v2"' };
    let now = v1;
    // HEAD without validators: only If-Range can tell (the probe has nothing to compare)
    const s = await streamServer({
      current: () => now,
      stallAt: 50_000,
      chunked: true,
      headValidators: false,
    });
    const out = path.join(await workDir(), 'out');
    await mkdir(out);
    await killWhenOnDisk(['download', '--quiet', '-d', out, s.url], path.join(out, 'file.bin.part'), 50_000);
    now = v2;
    const r = await netkit(['download', '--continue', '--json', '--quiet', '--trace', '-d', out, s.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'the server answered 200 to Range: bytes=50000- (the remote file changed); starting over from byte 0',
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ size: v2.data.length, resumedBytes: 0 });
    expect(sha256(await readFile(path.join(out, 'file.bin')))).toBe(sha256(v2.data));
  });

  it('the probe already shows a new ETag: it starts over without asking for a range', async () => {
    const v1 = { data: randomBytes(200 * KiB), etag: '"v1"' };
    const v2 = { data: randomBytes(150 * KiB), etag: '"v2"' };
    let now = v1;
    const s = await streamServer({ current: () => now, stallAt: 50_000, chunked: true });
    const out = path.join(await workDir(), 'out');
    await mkdir(out);
    await killWhenOnDisk(['download', '--quiet', '-d', out, s.url], path.join(out, 'file.bin.part'), 50_000);
    now = v2;
    const r = await netkit(['download', '--continue', '--quiet', '--trace', '-d', out, s.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'the remote file changed since the last run (ETag "v1" → "v2"); starting over',
    );
    expect(s.requests.at(-1)).toEqual({ method: 'GET' });
    expect(sha256(await readFile(path.join(out, 'file.bin')))).toBe(sha256(v2.data));
  });

  it('killed after the last byte, before the rename: a 416 says nothing is missing', async () => {
    const v1 = { data: randomBytes(64 * KiB), etag: '"v1"' };
    // the whole body is sent, but the (chunked) response never ends
    const s = await streamServer({ current: () => v1, stallAt: v1.data.length, chunked: true });
    const out = path.join(await workDir(), 'out');
    await mkdir(out);
    await killWhenOnDisk(
      ['download', '--quiet', '-d', out, s.url],
      path.join(out, 'file.bin.part'),
      v1.data.length,
    );
    const r = await netkit(['download', '--continue', '--json', '--quiet', '-d', out, s.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      size: v1.data.length,
      resumedBytes: v1.data.length,
      bytesFetched: 0,
    });
    expect(s.requests.at(-1)).toEqual({ method: 'GET', range: `bytes=${v1.data.length}-`, ifRange: '"v1"' });
    expect(sha256(await readFile(path.join(out, 'file.bin')))).toBe(sha256(v1.data));
  });

  it('Ctrl-C on a stream that can go on says to run again with --continue', async () => {
    const v1 = { data: randomBytes(100 * KiB), etag: '"v1"' };
    const s = await streamServer({ current: () => v1, stallAt: 10_000, chunked: true });
    const out = path.join(await workDir(), 'out');
    await mkdir(out);
    const part = path.join(out, 'file.bin.part');
    const r = await killWhenOnDisk(['download', '-d', out, s.url], part, 10_000, 'SIGINT');
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`netkit: interrupted; kept ${part} — run again with --continue\n`);
  });
});

describe('download --continue in segments after SIGKILL', () => {
  it('a fresh start over an earlier control file: killed at once, the next --continue fetches every byte', async () => {
    const data = randomBytes(256 * KiB);
    let stall = true;
    const s = await scriptedServer((req, res) => {
      if (req.method === 'GET' && stall) {
        // the body never comes: the run is killed meanwhile
        res.writeHead(206, { 'content-range': `bytes 0-${data.length - 1}/${data.length}` });
        return res.flushHeaders();
      }
      serveRanges(data, req, res, { etag: '"v1"' });
    });
    cleanups.push(() => s.close());
    const out = path.join(await workDir(), 'out');
    await mkdir(out);
    const part = path.join(out, 'file.bin.part');
    // an earlier run's control file whose .part is gone: its spans describe nothing on disk
    await writeFile(
      `${part}.netkit`,
      JSON.stringify({ version: 1, url: s.url, size: data.length, etag: '"v1"', done: [[0, 64 * KiB]] }),
    );
    // --continue starts over (the .part is missing) and is killed the moment the new .part exists
    const killed = await killWhenOnDisk(
      ['download', '--continue', '-c', '1', '-d', out, s.url],
      part,
      data.length,
    );
    expect(killed.signal).toBe('SIGKILL');
    stall = false;
    const r = await netkit(['download', '--continue', '--json', '--quiet', '-d', out, s.url]);
    expect(r.code, r.stderr).toBe(0);
    // the new .part's zeros were never taken for the old spans
    expect(JSON.parse(r.stdout)).toMatchObject({ resumedBytes: 0, bytesFetched: data.length });
    expect(sha256(await readFile(path.join(out, 'file.bin')))).toBe(sha256(data));
  });
});

// FTP: pyftpdlib (Debian's, an independent server) without SIZE but with REST STREAM: one stream
const PYFTPD_NO_SIZE = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
a = DummyAuthorizer()
a.add_anonymous(sys.argv[1])
class NoSize(FTPHandler):
    proto_cmds = {k: v for k, v in FTPHandler.proto_cmds.items() if k != 'SIZE'}
NoSize.authorizer = a
rate = int(sys.argv[2])
if rate > 0:
    class Slow(ThrottledDTPHandler):
        write_limit = rate
    NoSize.dtp_handler = Slow
s = FTPServer(('127.0.0.1', 0), NoSize)
print(s.socket.getsockname()[1], flush=True)
s.serve_forever()
`;

async function pyftpdNoSize(root: string, rate: number): Promise<number> {
  const child = spawn('/usr/bin/python3', ['-c', PYFTPD_NO_SIZE, root, String(rate)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await done;
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`pyftpdlib exited ${code}: ${stderr}`)));
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
}

describe('download --continue of ftp:// in one stream (no SIZE, REST STREAM)', () => {
  it('pyftpdlib: killed mid-transfer, then REST from the .part length (MDTM unchanged)', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'ftp');
    const out = path.join(dir, 'out');
    await mkdir(root);
    await mkdir(out);
    const data = randomBytes(2 * 1024 * KiB);
    await writeFile(path.join(root, 'f.bin'), data);
    const slow = await pyftpdNoSize(root, 512 * KiB);
    const fast = await pyftpdNoSize(root, 0);
    const part = path.join(out, 'f.bin.part');
    await killWhenOnDisk(['download', '--quiet', '-d', out, `ftp://127.0.0.1:${slow}/f.bin`], part, 64 * KiB);
    const kept = await lengthOf(part);
    expect(kept).toBeGreaterThanOrEqual(64 * KiB);
    expect(kept).toBeLessThan(data.length);

    const r = await netkit([
      'download',
      '--continue',
      '--json',
      '--quiet',
      '--trace',
      '-d',
      out,
      `ftp://127.0.0.1:${fast}/f.bin`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`resuming: ${kept} bytes already in f.bin.part`);
    expect(r.stderr).toMatch(new RegExp(`C: REST ${kept}\\b`));
    expect(JSON.parse(r.stdout)).toMatchObject({
      mode: 'single',
      size: data.length,
      resumedBytes: kept,
      bytesFetched: data.length - kept,
    });
    expect(sha256(await readFile(path.join(out, 'f.bin')))).toBe(sha256(data));
  });
});
