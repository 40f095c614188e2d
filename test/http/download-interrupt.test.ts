/**
 * What an interrupted download keeps, and what it says about it: the library reports whether the
 * `.part` can be resumed ({@link DownloadInterrupted}'s `kept`), the CLI prints that line, and the
 * control file beside the `.part` never claims a byte the `.part` does not hold — whatever moment
 * the run stops at, and when a control file cannot be written (a full disk, simulated here by
 * failing the control module's writes).
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { interruptedLine } from '../../src/cli/download.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { DownloadInterrupted, type DownloadOptions, download } from '../../src/http/download/index.js';
import { tempDir } from '../helpers/net.js';
import { type ScriptedServer, scriptedServer, simpleRange } from './download-servers.js';

const faults = vi.hoisted(() => ({ failWrites: false }));

// a full disk for the control file only: its writes fail as ENOSPC, everything else is real
vi.mock('../../src/http/download/control.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/http/download/control.js')>();
  const full = (): Promise<never> =>
    Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  return {
    ...real,
    writeControl: (...args: Parameters<typeof real.writeControl>) =>
      faults.failWrites ? full() : real.writeControl(...args),
    writeStreamControl: (...args: Parameters<typeof real.writeStreamControl>) =>
      faults.failWrites ? full() : real.writeStreamControl(...args),
  };
});

const KiB = 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  faults.failWrites = false;
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function outDir(): Promise<string> {
  const t = await tempDir('netkit-dl-interrupt-');
  cleanups.push(t.cleanup);
  const out = path.join(t.dir, 'out');
  await mkdir(out);
  return out;
}

async function start(script: Parameters<typeof scriptedServer>[0]): Promise<ScriptedServer> {
  const s = await scriptedServer(script);
  cleanups.push(() => s.close());
  return s;
}

/** Start a download, collecting its trace lines. */
function traced(url: string, opts: DownloadOptions) {
  const h = download(url, { progressIntervalMs: 5, retryDelayMs: 5, ...opts });
  const trace: string[] = [];
  h.on('trace', (ev: TraceEvent) => trace.push(ev.text));
  return { h, trace };
}

/** Start a download that aborts itself once `bytes` are in (its 'progress' says so). */
function abortAt(url: string, bytes: number, opts: DownloadOptions) {
  const { h, trace } = traced(url, opts);
  const totals: Array<number | undefined> = [];
  h.on('progress', (p) => {
    totals.push(p.total);
    if (p.done >= bytes) h.abort();
  });
  return { h, trace, totals };
}

/** The rejection of an interrupted download. */
async function interrupted(promise: Promise<unknown>): Promise<DownloadInterrupted> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DownloadInterrupted);
  return err as DownloadInterrupted;
}

/**
 * A server of `data` with ranges and a strong ETag. While `stall()` says so, each 206 sends only
 * its first `stallAt` bytes and then nothing more (the connection stays open until the client goes).
 */
async function rangeServer(data: Buffer, stall: () => number | undefined): Promise<ScriptedServer> {
  return start((req, res) => {
    const base = { 'accept-ranges': 'bytes', etag: '"v1"' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...base, 'content-length': data.length });
      return res.end();
    }
    const r = simpleRange(req.headers.range) ?? { start: 0, end: data.length - 1 };
    res.writeHead(206, {
      ...base,
      'content-range': `bytes ${r.start}-${r.end}/${data.length}`,
      'content-length': r.end + 1 - r.start,
    });
    const body = data.subarray(r.start, r.end + 1);
    const at = stall();
    if (at === undefined) res.end(body);
    else res.write(body.subarray(0, at));
  });
}

/** 256 KiB from {@link rangeServer}, stalling at 100 KiB until `release()`; an output directory. */
async function stalledSegments() {
  const data = randomBytes(256 * KiB);
  let stalling = true;
  const s = await rangeServer(data, () => (stalling ? 100 * KiB : undefined));
  const out = await outDir();
  const release = (): void => {
    stalling = false;
  };
  return { data, s, out, part: path.join(out, 'file.bin.part'), release };
}

describe('download: Ctrl-C says what was kept, and the control file agrees', () => {
  it('segments whose control file cannot be saved: "cannot be resumed", and no control file left', async () => {
    const { data, s, out, part, release } = await stalledSegments();
    faults.failWrites = true;
    const first = abortAt(s.url, 100 * KiB, { dir: out, connections: 1 });
    const err = await interrupted(first.h.promise);
    const why = `cannot write ${part}.netkit: no space left on device`;
    expect(err.message).toBe(
      `download interrupted; the .part file is kept, but it cannot be resumed (${why}): running again starts over`,
    );
    expect(err.kept).toEqual({ part, bytes: 100 * KiB, resumable: false, why });
    expect(interruptedLine(err)).toBe(
      `netkit: interrupted; kept ${part}, but it cannot be resumed (${why}) — running again starts over`,
    );
    // nothing beside the .part claims a byte of it
    expect(await readdir(out)).toEqual(['file.bin.part']);

    // and running again does start over
    faults.failWrites = false;
    release();
    const { h, trace } = traced(s.url, { dir: out, continue: true });
    const result = await h.promise;
    expect(result).toMatchObject({ resumedBytes: 0, bytesFetched: data.length });
    expect(trace).toContain('no control file for file.bin.part; starting from the beginning');
    expect((await readFile(result.file)).equals(data)).toBe(true);
  });

  it('a fresh start never leaves an earlier control file over the new .part (killed at once, then --continue)', async () => {
    const { data, s, out, part, release } = await stalledSegments();
    const ctl = `${part}.netkit`;
    // -c 1: Ctrl-C saves the last byte received, not the last periodic save (none in 5 s)
    const first = abortAt(s.url, 100 * KiB, { dir: out, connections: 1 });
    const err = await interrupted(first.h.promise);
    expect(err.kept).toEqual({ part, bytes: 100 * KiB, resumable: true, control: ctl });
    expect(interruptedLine(err)).toBe(`netkit: interrupted; kept ${part} — run again with --continue`);
    expect(JSON.parse(await readFile(ctl, 'utf8')).done).toEqual([[0, 100 * KiB]]);

    // the .part is lost; --continue starts over beside the old control file, and is killed (-9)
    // the moment its new .part exists: what is on disk then is copied aside as the crash leaves it
    await rm(part);
    const second = download(s.url, { dir: out, connections: 1, continue: true });
    second.on('start', () => {
      copyFileSync(part, `${part}.crash`);
      copyFileSync(ctl, `${ctl}.crash`);
      second.abort();
    });
    await interrupted(second.promise);
    await writeFile(part, await readFile(`${part}.crash`));
    await writeFile(ctl, await readFile(`${ctl}.crash`));
    await rm(`${part}.crash`);
    await rm(`${ctl}.crash`);
    // the control file claims none of the new .part's zeros, so the next run fetches them
    release();
    const result = await download(s.url, { dir: out, connections: 1, continue: true }).promise;
    expect(result.resumedBytes).toBe(0);
    expect((await readFile(result.file)).equals(data)).toBe(true);
  });

  it('a control file whose .part is gone holds nothing to lose: a run without --continue goes ahead', async () => {
    const data = randomBytes(64 * KiB);
    const s = await rangeServer(data, () => undefined);
    const out = await outDir();
    const ctl = path.join(out, 'file.bin.part.netkit');
    await writeFile(
      ctl,
      JSON.stringify({ version: 1, url: s.url, size: data.length, etag: '"v1"', done: [[0, 32 * KiB]] }),
    );
    // not "file.bin.part holds 32.0 KiB of an earlier run": there is no file.bin.part
    const result = await download(s.url, { dir: out }).promise;
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(await readdir(out)).toEqual(['file.bin']);
  });
});

/**
 * One stream: HEAD says no size. `answer(range)` decides each GET: the body bytes to send from
 * `range` on (a 206 with Content-Range …/TOTAL, no Content-Length; a 200 when there is no range)
 * and whether to end the response or stall after them; `undefined` sends nothing at all.
 */
async function streamServer(
  data: Buffer,
  answer: (from: number | undefined) => { bytes: number; end: boolean; wrong?: boolean } | undefined,
): Promise<ScriptedServer & { gets: Promise<void> }> {
  let sawGet: () => void = () => {};
  const gets = new Promise<void>((resolve) => {
    sawGet = resolve;
  });
  const s = await start((req, res) => {
    const base = { 'accept-ranges': 'bytes', etag: '"v1"' };
    if (req.method === 'HEAD') {
      res.writeHead(200, base);
      return res.end();
    }
    sawGet();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : undefined;
    const a = answer(from);
    if (!a) return;
    // `wrong`: a 206 for other bytes than asked (one past them)
    const first = (from ?? 0) + (a.wrong ? 1 : 0);
    if (from === undefined) res.writeHead(200, base);
    else res.writeHead(206, { ...base, 'content-range': `bytes ${first}-${data.length - 1}/${data.length}` });
    const body = data.subarray(first, first + a.bytes);
    if (a.end) res.end(body);
    else res.write(body);
  });
  return { ...s, gets };
}

describe('download: one stream, interrupted', () => {
  it('before any byte arrived: not resumable, and it says why (not "without byte ranges")', async () => {
    const s = await streamServer(Buffer.alloc(10), () => undefined);
    const out = await outDir();
    const h = download(s.url, { dir: out });
    await s.gets;
    h.abort();
    const err = await interrupted(h.promise);
    const part = path.join(out, 'file.bin.part');
    expect(err.kept).toEqual({ part, bytes: 0, resumable: false, why: 'nothing was received yet' });
    expect(err.message).toContain('cannot be resumed (nothing was received yet)');
    expect(await readdir(out)).toEqual(['file.bin.part']);
  });

  it('a sidecar that cannot be written: the stream goes on, and Ctrl-C says it cannot be resumed', async () => {
    const data = randomBytes(64 * KiB);
    const s = await streamServer(data, () => ({ bytes: 20 * KiB, end: false }));
    const out = await outDir();
    const part = path.join(out, 'file.bin.part');
    faults.failWrites = true;
    const { h, trace } = abortAt(s.url, 20 * KiB, { dir: out });
    const err = await interrupted(h.promise);
    const why = `cannot write ${part}.netkit: no space left on device`;
    expect(err.kept).toEqual({ part, bytes: 20 * KiB, resumable: false, why });
    expect(trace).toContain(`${why}; this download cannot be resumed`);
    expect(await readdir(out)).toEqual(['file.bin.part']);
  });

  it('ranges that go wrong on a resume: the sidecar goes at once, and Ctrl-C says it cannot be resumed', async () => {
    const data = randomBytes(100 * KiB);
    const N = 30 * KiB;
    let run = 1;
    // the second run: a 206 for the wrong bytes, then a GET that is never answered
    const s = await streamServer(data, (from) =>
      run === 1
        ? { bytes: N, end: false }
        : from !== undefined
          ? { bytes: 10, end: true, wrong: true }
          : undefined,
    );
    const out = await outDir();
    const part = path.join(out, 'file.bin.part');
    await interrupted(abortAt(s.url, N, { dir: out }).h.promise);
    expect((await readdir(out)).sort()).toEqual(['file.bin.part', 'file.bin.part.netkit']);
    run = 2;
    const { h, trace } = traced(s.url, { dir: out, continue: true });
    h.on('trace', (ev: TraceEvent) => {
      // the plain GET that starts over is on its way: stop there
      if (/starting over from byte 0$/.test(ev.text)) h.abort();
    });
    const err = await interrupted(h.promise);
    expect(trace.some((t) => t.includes('wrong range'))).toBe(true);
    expect(err.kept).toEqual({ part, bytes: N, resumable: false, why: 'one stream, without byte ranges' });
    expect(await readdir(out)).toEqual(['file.bin.part']);
  });

  it('a 206 that tells the size of a chunked body: the sidecar learns it (and --continue uses it)', async () => {
    const data = randomBytes(300 * KiB);
    const N = 50 * KiB;
    const M = 70 * KiB;
    let ending = false;
    const s = await streamServer(data, (from) =>
      from === undefined ? { bytes: N, end: false } : { bytes: ending ? data.length : M, end: ending },
    );
    const out = await outDir();
    const part = path.join(out, 'file.bin.part');
    const ctl = `${part}.netkit`;
    const first = abortAt(s.url, N, { dir: out });
    const err = await interrupted(first.h.promise);
    expect(err.kept).toEqual({ part, bytes: N, resumable: true, control: ctl });
    expect(JSON.parse(await readFile(ctl, 'utf8')).size).toBeUndefined();

    // the 206 for bytes N- says the total: written to the sidecar before the bytes
    const second = abortAt(s.url, N + M, { dir: out, continue: true });
    await interrupted(second.h.promise);
    expect(s.requests.at(-1)).toEqual({ method: 'GET', range: `bytes=${N}-`, ifRange: '"v1"' });
    expect(JSON.parse(await readFile(ctl, 'utf8'))).toMatchObject({
      stream: true,
      size: data.length,
      etag: '"v1"',
    });
    expect(second.totals.at(-1)).toBe(data.length);

    ending = true;
    const { h, trace } = traced(s.url, { dir: out, continue: true });
    const result = await h.promise;
    expect(trace).toContain(`resuming: ${N + M} of ${data.length} bytes already in file.bin.part`);
    expect(result).toMatchObject({ resumedBytes: N + M, size: data.length });
    expect((await readFile(result.file)).equals(data)).toBe(true);
  });
});
