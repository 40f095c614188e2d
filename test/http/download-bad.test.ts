import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { type FetchContext, fetchRange, type LiveSegment } from '../../src/http/download/fetch.js';
import { type DownloadOptions, download } from '../../src/http/download/index.js';
import { NodeTransport } from '../../src/http/download/node-transport.js';
import { ioError, PartFile } from '../../src/http/download/writer.js';
import { createFileServer } from '../../src/http/file-server.js';
import { CLI, run, tempDir } from '../helpers/net.js';
import { type ScriptedServer, scriptedServer, serveRanges, simpleRange } from './download-servers.js';

const KiB = 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function workDir(): Promise<string> {
  const t = await tempDir('netkit-dl-bad-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function start(script: Parameters<typeof scriptedServer>[0]): Promise<ScriptedServer> {
  const s = await scriptedServer(script);
  cleanups.push(() => s.close());
  return s;
}

/** Run a download collecting its trace lines. */
async function fetchAll(url: string, opts: DownloadOptions) {
  const h = download(url, { retryDelayMs: 5, minSegmentSize: 16 * KiB, ...opts });
  const trace: string[] = [];
  h.on('trace', (ev: TraceEvent) => trace.push(ev.text));
  const result = await h.promise;
  return { result, trace };
}

describe('download --max-filesize (curl): a file over the limit never fills the disk', () => {
  it('a known size over the limit is refused before any byte is fetched', async () => {
    const data = randomBytes(200 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res));
    const dir = await workDir();
    const err = await fetchAll(s.url, { dir, maxFileSize: 100 * KiB }).catch((e) => e);
    expect(err).toMatchObject({
      code: 'NETKIT_TOO_LARGE',
      message: `the file is larger than --max-filesize ${100 * KiB} bytes (the server announced ${200 * KiB})`,
    });
    expect(s.requests.filter((r) => r.method === 'GET')).toHaveLength(0);
    expect(await readdir(dir)).toEqual([]);
    const ok = await fetchAll(s.url, { dir, maxFileSize: 200 * KiB });
    expect((await readFile(ok.result.file)).equals(data)).toBe(true);
  });

  it('an unknown size is stopped once the body passes the limit, and is not retried', async () => {
    const s = await start(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
      if (req.method === 'HEAD') return res.end();
      for (let i = 0; i < 4096 && !res.destroyed; i++)
        if (!res.write(Buffer.alloc(KiB, 1))) await new Promise((r) => res.once('drain', r));
      res.end();
    });
    const dir = await workDir();
    const r = await run(process.execPath, [
      CLI,
      'download',
      s.url,
      '-o',
      path.join(dir, 'f.bin'),
      '--max-filesize',
      '64K',
      '--quiet',
    ]);
    expect(r.code).toBe(1);
    // and says so: a larger limit lets --continue go on from it
    expect(r.stderr).toBe(
      `netkit: the file is larger than --max-filesize ${64 * KiB} bytes (it kept coming past that)\n` +
        `netkit: kept ${path.join(dir, 'f.bin.part')} — run again with a larger --max-filesize and --continue to resume\n`,
    );
    expect(s.requests.filter((q) => q.method === 'GET')).toHaveLength(1);
    await expect(stat(path.join(dir, 'f.bin'))).rejects.toThrow();
    // what came before the limit stays in the part file, as after any failure: never more
    expect((await stat(path.join(dir, 'f.bin.part'))).size).toBeLessThanOrEqual(64 * KiB);
  });
});

describe('download: servers that misbehave', () => {
  it('a server that ignores Range (200 to a range request) → one stream, correct file', async () => {
    const data = randomBytes(300 * KiB);
    const s = await start((req, res) => {
      res.writeHead(200, { 'accept-ranges': 'bytes', 'content-length': data.length });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
    const dir = await workDir();
    const { result, trace } = await fetchAll(s.url, { dir, connections: 4 });
    expect(result.mode).toBe('single');
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace.some((t) => t.includes('ignored Range') && t.includes('single stream'))).toBe(true);
  });

  it('a wrong Content-Range (bytes from the wrong offset) → detected, one stream, correct file', async () => {
    const data = randomBytes(256 * KiB);
    const s = await start((req, res) => {
      const r = simpleRange(req.headers.range);
      if (req.method === 'GET' && r && r.start > 0) {
        // always sends the start of the file, labelled honestly: a server that mixes up offsets
        const len = r.end - r.start + 1;
        res.writeHead(206, { 'content-range': `bytes 0-${len - 1}/${data.length}`, 'content-length': len });
        res.end(data.subarray(0, len));
        return;
      }
      serveRanges(data, req, res);
    });
    const dir = await workDir();
    const { result, trace } = await fetchAll(s.url, { dir, connections: 4 });
    expect(result.mode).toBe('single');
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace.some((t) => /Content-Range "bytes 0-\d+\/\d+" for bytes \d+-/.test(t))).toBe(true);
  });

  it('a server that lies about the size in HEAD → total mismatch, one stream, the real size', async () => {
    const data = randomBytes(200 * KiB);
    const s = await start((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'accept-ranges': 'bytes', 'content-length': data.length - 1000 });
        res.end();
        return;
      }
      serveRanges(data, req, res);
    });
    const dir = await workDir();
    const { result, trace } = await fetchAll(s.url, { dir, connections: 3 });
    expect(result.mode).toBe('single');
    expect(result.size).toBe(data.length);
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace.some((t) => t.includes('size changed or misreported'))).toBe(true);
  });

  it('a connection dropped mid-segment is retried from where it stopped', async () => {
    const data = randomBytes(512 * KiB);
    const dropped = new Set<number>();
    const s = await start((req, res) => {
      const r = simpleRange(req.headers.range);
      if (req.method === 'GET' && r && !dropped.has(r.start)) {
        dropped.add(r.start);
        const half = Math.floor((r.end - r.start + 1) / 2);
        res.writeHead(206, {
          'content-range': `bytes ${r.start}-${r.end}/${data.length}`,
          'content-length': r.end - r.start + 1,
        });
        res.write(data.subarray(r.start, r.start + half), () => res.destroy());
        return;
      }
      serveRanges(data, req, res);
    });
    const dir = await workDir();
    const { result, trace } = await fetchAll(s.url, { dir, connections: 2, minSegmentSize: 64 * KiB });
    expect(result.mode).toBe('segmented');
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace.some((t) => t.startsWith('retry 1/5 for bytes'))).toBe(true);
    // the first segment was asked again from past its start (resumed, not restarted)
    const firstStarts = s.requests.filter((r) => r.range).map((r) => simpleRange(r.range)!.start);
    expect(firstStarts.filter((st) => st > 0 && st < 256 * KiB).length).toBeGreaterThan(0);
    expect(result.bytesFetched).toBe(data.length);
  });

  it('gives up after the retries with a clear error and keeps the .part', async () => {
    const data = randomBytes(64 * KiB);
    const s = await start((req, res) => {
      if (req.method === 'HEAD') return serveRanges(data, req, res);
      res.writeHead(503);
      res.end();
    });
    const dir = await workDir();
    await expect(fetchAll(s.url, { dir, retries: 2, connections: 1 })).rejects.toMatchObject({
      code: 'NETKIT_CONNECT_FAILED',
      message: expect.stringContaining('gave up after 2 retries'),
    });
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['file.bin.part', 'file.bin.part.netkit']));
    expect(s.requests.filter((r) => r.method === 'GET')).toHaveLength(3);
  });

  it('tries ranges when HEAD has no Accept-Ranges (RFC 9110 allows Range without it), as aria2c does', async () => {
    const data = randomBytes(256 * KiB);
    const s = await start((req, res) => {
      if (req.method !== 'HEAD') return serveRanges(data, req, res);
      res.writeHead(200, { 'content-length': data.length, etag: '"v1"' });
      res.end();
    });
    const { result, trace } = await fetchAll(s.url, { dir: await workDir(), connections: 4 });
    expect(result.mode).toBe('segmented');
    expect(result.connections).toBe(4);
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace.some((t) => t.includes('ranges not advertised; trying them'))).toBe(true);
  });

  it('no Accept-Ranges and Range ignored (200, a different length): one stream, the body wins', async () => {
    const data = randomBytes(200 * KiB);
    const s = await start((req, res) => {
      // HEAD is off by a few bytes, and every GET gets the whole file: no Range support at all
      res.writeHead(200, {
        etag: '"v1"',
        'content-length': req.method === 'HEAD' ? data.length - 7 : data.length,
      });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
    const { result, trace } = await fetchAll(s.url, { dir: await workDir(), connections: 4 });
    expect(result.mode).toBe('single');
    expect(result.restarts).toBe(0);
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace.some((t) => t.includes('does not do ranges after all') && t.includes('single stream'))).toBe(
      true,
    );
  });

  it('Accept-Ranges: none is a no: no range requests', async () => {
    const data = randomBytes(200 * KiB);
    const s = await start((req, res) => {
      res.writeHead(200, { 'accept-ranges': 'none', 'content-length': data.length });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
    const { result } = await fetchAll(s.url, { dir: await workDir(), connections: 4 });
    expect(result.mode).toBe('single');
    expect(s.requests.filter((r) => r.range)).toEqual([]);
  });

  it('--continue with a control file but no .part says the .part is missing, not that the file changed', async () => {
    const data = randomBytes(64 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res, { etag: '"e1"' }));
    const dir = await workDir();
    await writeFile(
      path.join(dir, 'file.bin.part.netkit'),
      JSON.stringify({
        version: 1,
        url: s.url,
        size: data.length,
        etag: '"e1"',
        done: [[0, 1000]],
        updated: '',
      }),
    );
    const { result, trace } = await fetchAll(s.url, { dir, continue: true });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace).toContain('file.bin.part is missing (its control file is there); starting over');
    expect(trace.some((t) => t.includes('changed'))).toBe(false);
  });

  it('--continue against a changed remote file names what changed', async () => {
    const data = randomBytes(64 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res, { etag: '"e2"' }));
    const dir = await workDir();
    await writeFile(path.join(dir, 'file.bin.part'), Buffer.alloc(data.length));
    await writeFile(
      path.join(dir, 'file.bin.part.netkit'),
      JSON.stringify({
        version: 1,
        url: s.url,
        size: data.length,
        etag: '"e1"',
        done: [[0, 1000]],
        updated: '',
      }),
    );
    const { result, trace } = await fetchAll(s.url, { dir, continue: true });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace).toContain('the remote file changed since the last run (ETag "e1" → "e2"); starting over');
  });

  it('probes with GET Range: bytes=0-0 when HEAD is refused', async () => {
    const data = randomBytes(100 * KiB);
    const s = await start((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(405);
        res.end();
        return;
      }
      serveRanges(data, req, res);
    });
    const dir = await workDir();
    const { result } = await fetchAll(s.url, { dir, connections: 2 });
    expect(result.mode).toBe('segmented');
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(s.requests[1]).toEqual({ method: 'GET', range: 'bytes=0-0' });
  });

  it('takes response headers up to the limit curl has (a 64 KiB header; undici stops at 16 KiB by default)', async () => {
    const data = randomBytes(100 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res, { 'x-big': 'v'.repeat(64 * KiB) }));
    const { result } = await fetchAll(s.url, { dir: await workDir(), connections: 2 });
    expect((await readFile(result.file)).equals(data)).toBe(true);
  });

  it('reports 404 as NETKIT_NOT_FOUND', async () => {
    const s = await start((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    await expect(fetchAll(s.url, { dir: await workDir() })).rejects.toMatchObject({
      code: 'NETKIT_NOT_FOUND',
    });
  });

  it('sanitises Content-Disposition: filename="../../x"', async () => {
    const data = Buffer.from('payload');
    const s = await start((req, res) =>
      serveRanges(data, req, res, { 'content-disposition': 'attachment; filename="../../x"' }),
    );
    const base = await workDir();
    const dir = path.join(base, 'a', 'b');
    const { result } = await fetchAll(s.url, { dir });
    expect(result.file).toBe(path.join(dir, 'x'));
    expect(await readFile(path.join(dir, 'x'), 'utf8')).toBe('payload');
    expect(await readdir(base)).toEqual(['a']);
  });

  it('a 400-byte filename="…" is cut so that the file and its .part and .part.netkit can be created', async () => {
    const data = Buffer.from('payload');
    const long = `${'A'.repeat(400)}.bin`;
    const s = await start((req, res) =>
      serveRanges(data, req, res, { 'content-disposition': `attachment; filename="${long}"` }),
    );
    const dir = await workDir();
    const { result } = await fetchAll(s.url, { dir });
    expect(path.basename(result.file)).toMatch(/^A{200,}\.bin$/);
    expect(await readFile(result.file, 'utf8')).toBe('payload');
    // a second download of it takes a .1 name beside the first
    const again = await fetchAll(s.url, { dir });
    expect(path.basename(again.result.file)).toMatch(/^A{200,}\.1\.bin$/);
  });

  it('reads raw UTF-8 in filename="…" as UTF-8 (as curl -OJ does)', async () => {
    const data = Buffer.from('payload');
    // the header's bytes are the UTF-8 of the name (Node writes header strings as Latin-1)
    const raw = Buffer.from('naïve €.txt').toString('latin1');
    const s = await start((req, res) =>
      serveRanges(data, req, res, { 'content-disposition': `attachment; filename="${raw}"` }),
    );
    const dir = await workDir();
    const { result } = await fetchAll(s.url, { dir });
    expect(result.file).toBe(path.join(dir, 'naïve €.txt'));
    expect(await readFile(result.file, 'utf8')).toBe('payload');
  });
});

describe('download: a name only the GET gives', () => {
  it("Content-Disposition on the GET but not the HEAD names the file (curl -OJ's and aria2c's reading)", async () => {
    const data = randomBytes(64 * KiB);
    const s = await start((req, res) =>
      serveRanges(
        data,
        req,
        res,
        req.method === 'GET' ? { 'content-disposition': 'attachment; filename="report-2026.pdf"' } : {},
      ),
    );
    const dir = await workDir();
    await writeFile(path.join(dir, 'report-2026.pdf'), 'an earlier one');
    const { result } = await fetchAll(`${s.url}download.php?id=7`, { dir });
    // never over an existing file: the next free name
    expect(result.file).toBe(path.join(dir, 'report-2026.1.pdf'));
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['report-2026.1.pdf', 'report-2026.pdf']);
    // -o is the user's word
    const own = await fetchAll(`${s.url}download.php?id=7`, { dir, output: 'mine.bin' });
    expect(own.result.file).toBe(path.join(dir, 'mine.bin'));
  });
});

describe('download: a busy server, an existing file, a full disk', () => {
  it('retries a probe answered 503 (a busy server), as curl --retry and aria2c do', async () => {
    const data = randomBytes(64 * KiB);
    const s = await start((req, res, { count }) => {
      if (count <= 2) {
        res.writeHead(503, { 'retry-after': '0', 'content-length': 4 });
        res.end('busy');
      } else serveRanges(data, req, res);
    });
    const { result, trace } = await fetchAll(s.url, { dir: await workDir() });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    // HEAD 503 → GET 0-0 503 → one retry → HEAD 200
    expect(s.requests.slice(0, 3).map((r) => r.method)).toEqual(['HEAD', 'GET', 'HEAD']);
    expect(trace.some((t) => /^retry 1\/5 in \d+ ms: HTTP 503 from /.test(t))).toBe(true);
  });

  it('waits what Retry-After asks on a probe 503 and 429, not its own backoff', async () => {
    const data = randomBytes(64 * KiB);
    const s = await start((req, res, { count }) => {
      if (count <= 2) {
        res.writeHead(count === 1 ? 503 : 429, { 'retry-after': '0', 'content-length': 0 });
        res.end();
      } else serveRanges(data, req, res);
    });
    // a backoff of 60 s would time the test out: the server's 0 s wins
    const { result, trace } = await fetchAll(s.url, { dir: await workDir(), retryDelayMs: 60_000 });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace).toContain(`retry 1/5 in 0 ms: HTTP 429 from ${s.url} (the server asked Retry-After: 0)`);
  });

  it('a segment 503 with a long Retry-After (an HTTP-date) waits at most maxRetryAfterMs', async () => {
    const data = randomBytes(64 * KiB);
    let refused = false;
    const s = await start((req, res) => {
      if (req.method === 'GET' && !refused) {
        refused = true;
        const date = new Date(Date.UTC(2030, 0, 1, 12, 0, 0));
        res.writeHead(503, {
          date: date.toUTCString(),
          'retry-after': new Date(date.getTime() + 120_000).toUTCString(),
          'content-length': 0,
        });
        res.end();
        return;
      }
      serveRanges(data, req, res);
    });
    const { result, trace } = await fetchAll(s.url, {
      dir: await workDir(),
      connections: 1,
      retryDelayMs: 60_000,
      maxRetryAfterMs: 20,
    });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(trace).toContain(
      `retry 1/5 for bytes 0-${data.length - 1} in 20 ms: HTTP 503 (the server asked Retry-After: Tue, 01 Jan 2030 12:02:00 GMT, in 120 s; waiting at most 0.02 s)`,
    );
  });

  it('never waits longer than the timeout for a Retry-After', async () => {
    const data = randomBytes(16 * KiB);
    const s = await start((req, res, { count }) => {
      if (count <= 2) {
        res.writeHead(503, { 'retry-after': '3600', 'content-length': 0 });
        res.end();
      } else serveRanges(data, req, res);
    });
    const { trace } = await fetchAll(s.url, { dir: await workDir(), timeoutMs: 1000 });
    expect(trace).toContain(
      `retry 1/5 in 1000 ms: HTTP 503 from ${s.url} (the server asked Retry-After: 3600; waiting at most 1 s, the timeout)`,
    );
  });

  it('gives up on a probe that stays 503 after the retries, in one line', async () => {
    const s = await start((_req, res) => {
      res.writeHead(503, { 'content-length': 0 });
      res.end();
    });
    await expect(fetchAll(s.url, { dir: await workDir(), retries: 1 })).rejects.toMatchObject({
      message: `gave up after 1 retry: HTTP 503 from ${s.url}`,
    });
    expect(s.requests).toHaveLength(4); // HEAD + GET, twice
  });

  it('never replaces an existing file with a name it chose (aria2c: NAME.1.EXT); -o does', async () => {
    const s = await start((req, res) =>
      serveRanges(Buffer.from('from the server'), req, res, {
        'content-disposition': 'attachment; filename="notes.txt"',
      }),
    );
    const dir = await workDir();
    await writeFile(path.join(dir, 'notes.txt'), 'precious');
    const first = await fetchAll(s.url, { dir });
    expect(first.result.file).toBe(path.join(dir, 'notes.1.txt'));
    expect(first.trace).toContain('notes.txt exists; saving as notes.1.txt');
    const second = await fetchAll(s.url, { dir });
    expect(second.result.file).toBe(path.join(dir, 'notes.2.txt'));
    expect(await readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('precious');
    expect(await readFile(path.join(dir, 'notes.2.txt'), 'utf8')).toBe('from the server');
    // the user's own -o replaces the file, as curl -o and aria2c -o --allow-overwrite do
    const third = await fetchAll(s.url, { dir, output: 'notes.txt' });
    expect(third.result.file).toBe(path.join(dir, 'notes.txt'));
    expect(await readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('from the server');
  });

  it('refuses -o naming a device or FIFO instead of renaming its file over it', async () => {
    const s = await start((req, res) => serveRanges(Buffer.from('from the server'), req, res));
    const dir = await workDir();
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await expect(fetchAll(s.url, { dir, output: 'pipe' })).rejects.toMatchObject({
      code: 'NETKIT_INVALID_INPUT',
      message: expect.stringContaining('pipe is not a regular file'),
    });
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect(await readdir(dir)).toEqual(['pipe']);
  });

  it('--continue on a finished download fetches nothing (wget -c, curl -C -, aria2c -c)', async () => {
    const data = randomBytes(200 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res));
    const dir = await workDir();
    await fetchAll(s.url, { dir, connections: 2 });
    const before = s.requests.length;
    const again = await fetchAll(s.url, { dir, continue: true, checksum: `sha256=${sha256(data)}` });
    expect(again.result).toMatchObject({
      file: path.join(dir, 'file.bin'),
      size: data.length,
      resumedBytes: data.length,
      bytesFetched: 0,
      connections: 0,
      sha256: sha256(data),
    });
    expect(s.requests.slice(before).map((r) => r.method)).toEqual(['HEAD']);
    expect(await readdir(dir)).toEqual(['file.bin']);
    const cli = await run(process.execPath, [CLI, 'download', '--continue', '-d', dir, s.url]);
    expect(cli.code, cli.stderr).toBe(0);
    // that line alone: no progress line for a transfer that does not happen
    expect(cli.stderr).toBe(
      `already complete: ${path.join(dir, 'file.bin')} (200.0 KiB, the server's size)\n`,
    );
    // without --continue it is a new download, beside the old file
    const fresh = await fetchAll(s.url, { dir });
    expect(fresh.result.file).toBe(path.join(dir, 'file.1.bin'));
  });

  it('a redirect to file:// (or garbage) is an error of the server: exit 1, naming the redirect', async () => {
    const s = await start((req, res) => {
      res.writeHead(302, {
        location: req.url === '/bad' ? 'http://[::1' : 'file:///etc/passwd',
        'content-length': 0,
      });
      res.end();
    });
    const dir = await workDir();
    const r = await run(process.execPath, [CLI, 'download', '-d', dir, s.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `netkit: ${s.url} redirects to "file:///etc/passwd": only http and https redirects are followed\n`,
    );
    const bad = s.url.replace('/file.bin', '/bad');
    await expect(fetchAll(bad, { dir })).rejects.toMatchObject({
      code: 'NETKIT_PROTOCOL',
      message: `${bad} redirects to "http://[::1": only http and https redirects are followed`,
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('a malformed URL is a usage error: one line, exit 2, nothing created', async () => {
    const dir = await workDir();
    const r = await run(process.execPath, [CLI, 'download', '-d', dir, 'http://[::1/']);
    expect([r.code, r.stderr]).toEqual([2, 'netkit: "http://[::1/" is not a URL\n']);
    const zoned = await run(process.execPath, [CLI, 'download', '-d', dir, 'http://[fe80::1%25eth0]/f']);
    expect([zoned.code, zoned.stderr]).toEqual([
      2,
      `netkit: "http://[fe80::1%25eth0]/f" is not a URL: an IPv6 zone (%25NAME) cannot be part of an http URL; use the host's global or unique-local address\n`,
    ]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('follows up to --max-redirects (20 by default, as http get), then fails naming the last hop', async () => {
    const data = Buffer.from('at the end of the chain');
    const s = await start((req, res) => {
      const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '');
      if (hop && Number(hop[1]) < 6) {
        res.writeHead(302, { location: `/hop/${Number(hop[1]) + 1}`, 'content-length': 0 });
        res.end();
      } else serveRanges(data, req, res);
    });
    const first = s.url.replace('/file.bin', '/hop/0');
    const dir = await workDir();
    const ok = await run(process.execPath, [
      CLI,
      'download',
      '--quiet',
      '-o',
      path.join(dir, 'end.bin'),
      first,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'end.bin'), 'utf8')).toBe('at the end of the chain');
    const r = await run(process.execPath, [CLI, 'download', '-d', dir, '--max-redirects', '3', first]);
    const origin = new URL(s.url).origin;
    expect([r.code, r.stderr]).toEqual([
      1,
      `netkit: too many redirects (more than 3); last one: ${origin}/hop/3 → ${origin}/hop/4\n`,
    ]);
  });

  it('the summary line says "1 connection" for a file too small to split', async () => {
    const s = await start((req, res) => serveRanges(Buffer.from('abc'), req, res));
    const dir = await workDir();
    const r = await run(process.execPath, [CLI, 'download', '-c', '4', '-d', dir, s.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/saved .*file\.bin \(3 B in [\d.]+ s, .*\/s, 1 connection\)\n$/);
  });

  it('a write that fails mid-segment (disk full) leaves pos at the last byte really written', async () => {
    const data = randomBytes(512 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res));
    const dir = await workDir();
    const part = await PartFile.open(path.join(dir, 'f.part'), { fresh: true, size: data.length });
    cleanups.push(() => part.close());
    // the disk fills after 100 KiB: every later write fails as ENOSPC would
    let room = 100 * KiB;
    const write = part.writeSync.bind(part);
    part.writeSync = (chunk: Buffer, position: number) => {
      if (chunk.length > room)
        throw ioError(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }), part.path);
      room -= chunk.length;
      write(chunk, position);
    };
    const transport = new NodeTransport({ connections: 1, timeoutMs: 5000, maxHeaderSize: 64 * KiB });
    cleanups.push(() => transport.destroy());
    const seg: LiveSegment = { id: 1, start: 0, end: data.length, pos: 0, conn: 1 };
    const ctx: FetchContext = {
      dispatcher: transport,
      headers: {},
      signal: new AbortController().signal,
      trace: () => {},
      maxRedirects: 0,
      url: s.url,
      size: data.length,
      part,
      onBytes: () => {},
    };
    await expect(fetchRange(ctx, seg)).rejects.toMatchObject({ code: 'NETKIT_IO', message: /no space left/ });
    // the control file records [start, pos) as finished: those bytes must be on disk
    expect(seg.pos).toBe(100 * KiB - room);
    expect(seg.pos).toBeGreaterThan(0);
    const onDisk = await readFile(part.path);
    expect(onDisk.subarray(0, seg.pos).equals(data.subarray(0, seg.pos))).toBe(true);
  });
});

describe('download: a remote file that changes', () => {
  it('mid-download: If-Range answers 200 with the new version → clean restart, result is the new file', async () => {
    const v1 = randomBytes(256 * KiB);
    const v2 = randomBytes(256 * KiB);
    let current = { data: v1, etag: '"v1"' };
    const s = await start((req, res) => {
      const served = current;
      // the file is replaced right after the probe
      if (req.method === 'HEAD' && served === current)
        setImmediate(() => (current = { data: v2, etag: '"v2"' }));
      const ifRange = req.headers['if-range'];
      if (req.method === 'GET' && req.headers.range && ifRange !== undefined && ifRange !== served.etag) {
        res.writeHead(200, {
          etag: served.etag,
          'accept-ranges': 'bytes',
          'content-length': served.data.length,
        });
        res.end(served.data);
        return;
      }
      serveRanges(served.data, req, res, { etag: served.etag });
    });
    const dir = await workDir();
    const { result, trace } = await fetchAll(s.url, { dir, connections: 2 });
    expect(result.restarts).toBe(1);
    expect((await readFile(result.file)).equals(v2)).toBe(true);
    expect(trace.some((t) => t.includes('the remote file changed') && t.includes('restarting'))).toBe(true);
    expect(s.requests.some((r) => r.ifRange === '"v1"')).toBe(true);
    expect(s.requests.filter((r) => r.ifRange === '"v2"').length).toBeGreaterThan(0);
  });

  it('between runs: --continue notices the new ETag and restarts cleanly (our file server, If-Range)', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    await mkdir(root);
    const v1 = randomBytes(1024 * KiB);
    const v2 = randomBytes(1024 * KiB);
    await writeFile(path.join(root, 'f.bin'), v1);
    const server = await createFileServer({ root, rateLimit: 512 * KiB });
    cleanups.push(() => server.close(100));
    const out = path.join(dir, 'out');
    const url = `${server.url}f.bin`;
    const first = download(url, {
      dir: out,
      connections: 2,
      minSegmentSize: 64 * KiB,
      progressIntervalMs: 20,
    });
    first.on('progress', (p) => {
      if (p.done >= 200 * KiB) first.abort();
    });
    await expect(first.promise).rejects.toMatchObject({ code: 'NETKIT_IO', message: /interrupted/ });
    const control = JSON.parse(await readFile(path.join(out, 'f.bin.part.netkit'), 'utf8'));
    expect(control.done.length).toBeGreaterThan(0);

    await writeFile(path.join(root, 'f.bin'), v2);
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(root, 'f.bin'), later, later);
    const fast = await createFileServer({ root });
    cleanups.push(() => fast.close(100));
    const { result, trace } = await fetchAll(`${fast.url}f.bin`, {
      dir: out,
      connections: 2,
      continue: true,
    });
    expect((await readFile(result.file)).equals(v2)).toBe(true);
    expect(result.resumedBytes).toBe(0);
    expect(result.bytesFetched).toBe(v2.length);
    expect(trace.some((t) => t.includes('changed since the last run'))).toBe(true);
  });
});

describe('download: checksums and the target directory', () => {
  it('verifies sha256 and reports it; a mismatch keeps the .part', async () => {
    const data = randomBytes(50 * KiB);
    const sha = createHash('sha256').update(data).digest('hex');
    const s = await start((req, res) => serveRanges(data, req, res));
    const dir = await workDir();
    const { result } = await fetchAll(s.url, { dir, checksum: `sha256=${sha}` });
    expect(result.sha256).toBe(sha);
    const md5 = createHash('md5').update(data).digest('hex');
    const ok = await fetchAll(s.url, { dir, output: 'm.bin', checksum: `md5=${md5}` });
    expect(ok.result.checksum).toEqual({ algorithm: 'md5', hex: md5 });

    await expect(
      fetchAll(s.url, { dir, output: 'bad.bin', checksum: `sha1=${'0'.repeat(40)}` }),
    ).rejects.toMatchObject({
      code: 'NETKIT_CHECKSUM',
    });
    expect((await readFile(path.join(dir, 'bad.bin.part'))).equals(data)).toBe(true);
    await expect(stat(path.join(dir, 'bad.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an unwritable target directory is a clear error (CLI, exit 1)', async () => {
    const data = randomBytes(10 * KiB);
    const s = await start((req, res) => serveRanges(data, req, res));
    const base = await workDir();
    await chmod(base, 0o755);
    const locked = path.join(base, 'locked');
    await mkdir(locked, { mode: 0o555 });
    await chmod(locked, 0o555);
    // root ignores directory permissions: run the CLI as nobody then.
    const asRoot = process.getuid?.() === 0;
    const r = await run(asRoot ? 'setpriv' : process.execPath, [
      ...(asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : []),
      CLI,
      'download',
      s.url,
      '-d',
      locked,
      '--quiet',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`netkit: cannot write ${locked}: permission denied`);
    expect(await readdir(locked)).toEqual([]);
  });
});
