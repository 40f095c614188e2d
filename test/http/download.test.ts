import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { type DownloadProgress, download } from '../../src/http/download/index.js';
import { missingSpans, type Span } from '../../src/http/download/planner.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { CLI, netkit, run, tempDir } from '../helpers/net.js';
import { startNginx } from '../helpers/nginx.js';
import { scriptedServer, serveRanges } from './download-servers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function workDir(): Promise<string> {
  const t = await tempDir('netkit-dl-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function fileServer(root: string, opts: { rateLimit?: number } = {}): Promise<FileServerHandle> {
  const s = await createFileServer({ root, ...opts });
  cleanups.push(() => s.close(100));
  return s;
}

/** Range requests seen by our file server, as half-open spans. */
function recordRanges(server: FileServerHandle): Span[] {
  const spans: Span[] = [];
  server.on('trace', (ev: TraceEvent) => {
    const m = /\[Range: bytes=(\d+)-(\d+)\]$/.exec(ev.text);
    if (ev.kind === 'in' && m) spans.push({ start: Number(m[1]), end: Number(m[2]) + 1 });
  });
  return spans;
}

const inside = (s: Span, set: Span[]) => set.some((m) => s.start >= m.start && s.end <= m.end);

describe('download: against independent servers', () => {
  it('nginx (Debian): four ranged connections, byte-identical', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'www');
    await mkdir(root);
    const data = randomBytes(6 * MiB + 17);
    await writeFile(path.join(root, 'data.bin'), data);
    const nginx = await startNginx({ root });
    cleanups.push(() => nginx.stop());
    const h = download(`${nginx.url}data.bin`, {
      dir: path.join(dir, 'out'),
      connections: 4,
      minSegmentSize: 512 * KiB,
    });
    const traces: string[] = [];
    h.on('trace', (ev: TraceEvent) => traces.push(ev.text));
    const result = await h.promise;
    expect(result.mode).toBe('segmented');
    expect(result.connections).toBe(4);
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(
      traces.filter((t) => /^HTTP 206 Content-Range: bytes \d+-\d+\/6291473$/.test(t)).length,
    ).toBeGreaterThanOrEqual(4);
    // nginx's ETag is strong, so it is what If-Range carries
    expect(traces.some((t) => /If-Range: "[0-9a-f]+-[0-9a-f]+"$/.test(t))).toBe(true);
    expect(await readdir(path.join(dir, 'out'))).toEqual(['data.bin']);
  });

  it('nginx: a file smaller than two segments opens one connection, and says so', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'www');
    await mkdir(root);
    await writeFile(path.join(root, 'tiny.txt'), 'abc');
    const nginx = await startNginx({ root });
    cleanups.push(() => nginx.stop());
    const h = download(`${nginx.url}tiny.txt`, { dir: path.join(dir, 'out'), connections: 4 });
    let announced = 0;
    h.on('start', (s: { connections: number }) => {
      announced = s.connections;
    });
    const result = await h.promise;
    expect([result.mode, result.connections, announced]).toEqual(['segmented', 1, 1]);
    expect(await readFile(result.file, 'utf8')).toBe('abc');
  });

  it('nginx: --continue fetches only what the control file says is missing', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'www');
    const out = path.join(dir, 'out');
    await mkdir(root);
    await mkdir(out);
    const data = randomBytes(2 * MiB);
    await writeFile(path.join(root, 'data.bin'), data);
    const nginx = await startNginx({ root });
    cleanups.push(() => nginx.stop());
    const url = `${nginx.url}data.bin`;
    // A previous run that got the first half: real bytes there, garbage elsewhere.
    const head = await fetch(url, { method: 'HEAD' });
    const part = Buffer.alloc(data.length, 0xee);
    data.copy(part, 0, 0, MiB);
    await writeFile(path.join(out, 'data.bin.part'), part);
    await writeFile(
      path.join(out, 'data.bin.part.netkit'),
      JSON.stringify({
        version: 1,
        url,
        size: data.length,
        etag: head.headers.get('etag'),
        lastModified: head.headers.get('last-modified'),
        done: [[0, MiB]],
        updated: new Date().toISOString(),
      }),
    );
    // without --continue the earlier run is not thrown away silently: one line says what to do
    const r = await run(process.execPath, [CLI, 'download', '-d', out, url]);
    expect([r.code, r.stderr]).toEqual([
      2,
      `netkit: ${path.join(out, 'data.bin.part')} holds 1.0 MiB of an earlier run of this download: add --continue to resume it, or delete it to start over\n`,
    ]);
    expect(
      (await readFile(path.join(out, 'data.bin.part'))).subarray(0, MiB).equals(data.subarray(0, MiB)),
    ).toBe(true);
    const result = await download(url, {
      dir: out,
      connections: 2,
      minSegmentSize: 128 * KiB,
      continue: true,
    }).promise;
    expect(result.resumedBytes).toBe(MiB);
    expect(result.bytesFetched).toBe(MiB);
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(await readdir(out)).toEqual(['data.bin']);
  });

  it("Python's http.server (no Range support): the single-stream path", async () => {
    const dir = await workDir();
    const root = path.join(dir, 'www');
    await mkdir(root);
    const data = randomBytes(3 * MiB + 5);
    await writeFile(path.join(root, 'py.bin'), data);
    const py = spawn('/usr/bin/python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => stopChild(py));
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      py.stdout!.on('data', (d) => {
        buf += d.toString();
        const m = /port (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      py.once('exit', (code) => reject(new Error(`http.server exited ${code}`)));
    });
    const h = download(`http://127.0.0.1:${port}/py.bin`, { dir: path.join(dir, 'out'), connections: 4 });
    const traces: string[] = [];
    h.on('trace', (ev: TraceEvent) => traces.push(ev.text));
    const result = await h.promise;
    expect(result.mode).toBe('single');
    expect(result.size).toBe(data.length);
    expect((await readFile(result.file)).equals(data)).toBe(true);
    // no Accept-Ranges: ranges are tried (RFC 9110 lets a server support them unannounced), the 200
    // says no, and one stream fetches the file
    expect(traces.some((t) => t.includes('does not do ranges after all'))).toBe(true);
  });
});

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe('download: segments, stealing, resume', () => {
  it('idle connections steal from a slow one; ranges stay disjoint', async () => {
    const data = randomBytes(2 * MiB);
    const s = await scriptedServer((req, res, { range }) => {
      if (req.method === 'GET' && range && range.start === 0) {
        // the first segment crawls: 16 KiB every 20 ms
        res.writeHead(206, {
          'content-range': `bytes 0-${range.end}/${data.length}`,
          'content-length': range.end + 1,
        });
        let at = 0;
        const tick = setInterval(() => {
          if (res.destroyed || at > range.end) {
            clearInterval(tick);
            if (!res.destroyed) res.end();
            return;
          }
          res.write(data.subarray(at, Math.min(at + 16 * KiB, range.end + 1)));
          at += 16 * KiB;
        }, 20);
        res.on('close', () => clearInterval(tick));
        return;
      }
      serveRanges(data, req, res);
    });
    cleanups.push(() => s.close());
    const dir = await workDir();
    const h = download(s.url, { dir, connections: 4, minSegmentSize: 64 * KiB, progressIntervalMs: 10 });
    const traces: string[] = [];
    const samples: DownloadProgress[] = [];
    h.on('trace', (ev: TraceEvent) => traces.push(ev.text));
    h.on('progress', (p) => samples.push(p));
    const result = await h.promise;
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(traces.filter((t) => /takes bytes \d+-\d+ from connection 1$/.test(t)).length).toBeGreaterThan(0);
    // every progress report shows disjoint segments inside the file
    for (const p of samples) {
      const segs = [...p.segments].sort((a, b) => a.start - b.start);
      for (let i = 1; i < segs.length; i++) expect(segs[i]!.start).toBeGreaterThanOrEqual(segs[i - 1]!.end);
      expect(p.done).toBeLessThanOrEqual(data.length);
    }
    expect(samples.some((p) => p.segments.filter((x) => x.conn > 0).length >= 2)).toBe(true);
    expect(result.bytesFetched).toBeLessThan(data.length + 64 * KiB);
  });

  it('interrupted, then continue: only the missing ranges are requested', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    const out = path.join(dir, 'out');
    await mkdir(root);
    const data = randomBytes(3 * MiB);
    await writeFile(path.join(root, 'big.bin'), data);
    const slow = await fileServer(root, { rateLimit: 1 * MiB });
    const url = `${slow.url}big.bin`;
    const first = download(url, {
      dir: out,
      connections: 3,
      minSegmentSize: 128 * KiB,
      progressIntervalMs: 20,
    });
    first.on('progress', (p) => {
      if (p.done >= 600 * KiB) first.abort();
    });
    await expect(first.promise).rejects.toMatchObject({ message: /interrupted/ });
    const control = JSON.parse(await readFile(path.join(out, 'big.bin.part.netkit'), 'utf8'));
    const done: Span[] = control.done.map(([start, end]: [number, number]) => ({ start, end }));
    const kept = done.reduce((n, s) => n + s.end - s.start, 0);
    expect(kept).toBeGreaterThan(0);
    expect(done.length).toBeGreaterThanOrEqual(2);
    // the kept spans really hold the file's bytes
    const part = await readFile(path.join(out, 'big.bin.part'));
    for (const s of done)
      expect(part.subarray(s.start, s.end).equals(data.subarray(s.start, s.end))).toBe(true);

    const fast = await fileServer(root);
    const requested = recordRanges(fast);
    const result = await download(`${fast.url}big.bin`, {
      dir: out,
      connections: 3,
      minSegmentSize: 128 * KiB,
      continue: true,
    }).promise;
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(result.resumedBytes).toBe(kept);
    expect(result.bytesFetched).toBe(data.length - kept);
    const missing = missingSpans(data.length, done);
    expect(requested.length).toBeGreaterThan(0);
    for (const r of requested) expect(inside(r, missing), `${r.start}-${r.end}`).toBe(true);
    expect(await readdir(out)).toEqual(['big.bin']);
  });
});

describe('download: CLI', () => {
  it('downloads with --json --quiet and prints one summary line', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    await mkdir(root);
    const data = randomBytes(300 * KiB);
    await writeFile(path.join(root, 'c.bin'), data);
    const s = await fileServer(root);
    const r = await netkit([
      'download',
      `${s.url}c.bin`,
      '-d',
      path.join(dir, 'out'),
      '-c',
      '2',
      '-k',
      '64k',
      '--json',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      file: path.join(dir, 'out', 'c.bin'),
      size: data.length,
      mode: 'segmented',
      connections: 2,
    });
    expect((await readFile(summary.file)).equals(data)).toBe(true);
  });

  it('rejects bad options with exit 2', async () => {
    expect((await netkit(['download', 'http://127.0.0.1:1/x', '--checksum', 'sha256=zz'])).code).toBe(2);
    expect((await netkit(['download', 'http://127.0.0.1:1/x', '-c', '0'])).code).toBe(2);
    const bad = await netkit(['download', 'gopher://example.org/x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/only http, https, ftp and ftps URLs can be downloaded/);
  });

  it('Ctrl-C keeps the .part and control file (exit 130); --continue finishes', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    const out = path.join(dir, 'out');
    await mkdir(root);
    const data = randomBytes(2 * MiB);
    await writeFile(path.join(root, 'i.bin'), data);
    const slow = await fileServer(root, { rateLimit: 512 * KiB });
    const child = spawn(
      process.execPath,
      [CLI, 'download', `${slow.url}i.bin`, '-d', out, '-c', '2', '-k', '64k', '--trace'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    // interrupt once both connections are receiving data
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d) => {
        stderr += d.toString();
        if ((stderr.match(/S: HTTP 206/g) ?? []).length >= 2) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('interrupted');
    expect((await readdir(out)).sort()).toEqual(['i.bin.part', 'i.bin.part.netkit']);
    expect((await stat(path.join(out, 'i.bin.part'))).size).toBe(data.length);

    const fast = await fileServer(root);
    const r = await netkit(['download', `${fast.url}i.bin`, '-d', out, '--continue', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.resumedBytes + summary.bytesFetched).toBe(data.length);
    expect((await readFile(path.join(out, 'i.bin'))).equals(data)).toBe(true);
  });

  it('SIGTERM exits 143 (128 + 15) and keeps the .part and control file too', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    const out = path.join(dir, 'out');
    await mkdir(root);
    await writeFile(path.join(root, 't.bin'), randomBytes(2 * MiB));
    const slow = await fileServer(root, { rateLimit: 256 * KiB });
    const child = spawn(
      process.execPath,
      [CLI, 'download', `${slow.url}t.bin`, '-d', out, '-c', '2', '-k', '64k', '--trace'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d) => {
        stderr += d.toString();
        if ((stderr.match(/S: HTTP 206/g) ?? []).length >= 2) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toContain('run again with --continue');
    expect((await readdir(out)).sort()).toEqual(['t.bin.part', 't.bin.part.netkit']);
  });

  it('Ctrl-C on one stream (no Range) does not promise a resume; --continue says it starts over', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    const out = path.join(dir, 'out');
    await mkdir(root);
    const data = randomBytes(2 * MiB);
    await writeFile(path.join(root, 's.bin'), data);
    const slow = await createFileServer({ root, noRange: true, rateLimit: 256 * KiB });
    cleanups.push(() => slow.close(100));
    const child = spawn(process.execPath, [CLI, 'download', `${slow.url}s.bin`, '-d', out, '--trace'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    // interrupt once the single stream is receiving the body
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d) => {
        stderr += d.toString();
        const fallback = stderr.indexOf('falling back to a single stream');
        if (fallback >= 0 && /S: HTTP 200/.test(stderr.slice(fallback))) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('cannot be resumed');
    expect(stderr).toContain('running again starts over');
    expect(stderr).not.toContain('run again with --continue');

    const fast = await createFileServer({ root, noRange: true });
    cleanups.push(() => fast.close(100));
    const r = await netkit(['download', `${fast.url}s.bin`, '-d', out, '--continue', '--trace']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/cannot resume \(.*\): starting over from byte 0; s\.bin\.part is discarded/);
    expect((await readFile(path.join(out, 's.bin'))).equals(data)).toBe(true);
  });

  it('prints plain progress lines when stderr is not a TTY', async () => {
    const dir = await workDir();
    const root = path.join(dir, 'root');
    await mkdir(root);
    await writeFile(path.join(root, 'p.bin'), randomBytes(80 * KiB));
    // paced to 32 KiB/s on one connection: past the two-second interval, so lines are due
    const s = await fileServer(root, { rateLimit: 32 * KiB });
    const r = await netkit(['download', `${s.url}p.bin`, '-c', '1', '-d', path.join(dir, 'out')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^p\.bin \d+% [\d.]+ KiB\/80\.0 KiB [\d.]+ \w+\/s ETA /m);
    expect(r.stderr).toMatch(/^p\.bin 100% 80\.0 KiB\/80\.0 KiB /m);
    expect(r.stderr).toMatch(/^saved .*p\.bin \(80\.0 KiB in /m);
    expect(r.stderr).not.toContain('\u001b[');
  });
});
