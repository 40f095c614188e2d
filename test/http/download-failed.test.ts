/**
 * What a failed download (not an aborted one) says it kept: every rejection after the `.part` was
 * opened carries `kept`, as Ctrl-C's {@link DownloadInterrupted} does, the CLI prints it after the
 * error line — and when it says `--continue` resumes, `--continue` fetches only the rest.
 *
 * The servers reset the connection (RST) once the downloader has written the bytes sent before it
 * to its `.part` (read back from the file, with fs.watch saying when to look), so how far a run
 * got never depends on timing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keptLine } from '../../src/cli/download.js';
import { type DownloadError, type DownloadOptions, download } from '../../src/http/download/index.js';
import { PartFile } from '../../src/http/download/writer.js';
import { netkit, tempDir } from '../helpers/net.js';
import { type ScriptedServer, scriptedServer } from './download-servers.js';

const KiB = 1024;
const SIZE = 256 * KiB;
/** bytes each cut-off response sends before the reset */
const CUT = 40 * KiB;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** An empty directory to download into, removed after the test. */
async function outDir(): Promise<string> {
  const { dir, cleanup } = await tempDir('netkit-dl-failed-');
  cleanups.push(cleanup);
  return dir;
}

/** Resolves once `file` holds `want` at `offset`: the downloader has written those bytes. */
function onDisk(file: string, want: Buffer, offset: number): Promise<void> {
  return new Promise((resolve) => {
    const watcher: FSWatcher = watch(path.dirname(file));
    cleanups.push(() => watcher.close());
    const check = async (): Promise<void> => {
      const fh = await open(file, 'r').catch(() => undefined);
      if (!fh) return;
      try {
        const got = Buffer.alloc(want.length);
        const { bytesRead } = await fh.read(got, 0, want.length, offset);
        if (bytesRead === want.length && got.equals(want)) {
          watcher.close();
          resolve();
        }
      } finally {
        await fh.close();
      }
    };
    watcher.on('change', () => void check());
    void check();
  });
}

/** `bytes=A-B` (a segment) or `bytes=A-` (one stream going on): its bounds in a file of `size`. */
function rangeOf(h: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(h ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: m[2] === '' ? size - 1 : Number(m[2]) };
}

interface FailingServer extends ScriptedServer {
  /** while true, GETs fail as described at {@link failingServer}; afterwards they are answered */
  failing: boolean;
}

/**
 * `data` with a strong ETag; `ranges: false` says `Accept-Ranges: none` and ignores Range. HEAD
 * gives the size, unless `stream` (then none: the download is one stream). While `failing`, a GET
 * sends `CUT` bytes of its answer and is reset once they are in `part`; the retry that asks for what
 * follows is reset before it gets an answer, once all `cuts` cut-off responses are on disk (so no
 * failure ends the run before every connection got its bytes).
 */
async function failingServer(
  data: Buffer,
  part: string,
  opts: { stream?: boolean; ranges?: boolean; cuts: number },
): Promise<FailingServer> {
  const ranges = opts.ranges ?? true;
  const base = { 'accept-ranges': ranges ? 'bytes' : 'none', etag: '"v1"' };
  const cutOff = new Set<number>();
  const cut: Array<Promise<void>> = [];
  let allCut: () => void = () => {};
  const cutsOnDisk = new Promise<void>((resolve) => {
    allCut = resolve;
  });
  /** the head of a correct answer (206 to a range, when it does them); where its bytes start */
  const answer = (req: http.IncomingMessage, res: http.ServerResponse): { start: number; body: Buffer } => {
    const r = ranges ? rangeOf(req.headers.range, data.length) : undefined;
    const partial = r && (req.headers['if-range'] === undefined || req.headers['if-range'] === base.etag);
    const { start, end } = partial ? r : { start: 0, end: data.length - 1 };
    res.writeHead(partial ? 206 : 200, {
      ...base,
      ...(partial ? { 'content-range': `bytes ${start}-${end}/${data.length}` } : {}),
      'content-length': end + 1 - start,
    });
    return { start, body: data.subarray(start, end + 1) };
  };
  const s = await scriptedServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(
        200,
        opts.stream
          ? { ...base, 'transfer-encoding': 'chunked' }
          : { ...base, 'content-length': data.length },
      );
      return res.end();
    }
    if (!server.failing) return res.end(answer(req, res).body);
    const from = (ranges && rangeOf(req.headers.range, data.length)?.start) || 0;
    if (cutOff.has(from)) {
      void cutsOnDisk.then(() => req.socket.resetAndDestroy());
      return;
    }
    const { start } = answer(req, res);
    cutOff.add(start + CUT);
    const bytes = data.subarray(start, start + CUT);
    res.write(bytes);
    const written = onDisk(part, bytes, start);
    cut.push(written);
    if (cut.length === opts.cuts) void Promise.all(cut).then(() => allCut());
    void written.then(() => res.socket?.resetAndDestroy());
  });
  const server: FailingServer = Object.assign(s, { failing: true });
  cleanups.push(() => s.close());
  return server;
}

/** Random data served by a {@link failingServer} (`opts`), and the directory and `.part` it goes to. */
async function failingSetup(opts: Parameters<typeof failingServer>[2]) {
  const data = randomBytes(SIZE);
  const out = await outDir();
  const part = path.join(out, 'file.bin.part');
  return { data, out, part, s: await failingServer(data, part, opts) };
}

/** The rejection of a download (it must reject). */
async function failure(promise: Promise<unknown>): Promise<DownloadError> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  return err as DownloadError;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Whether every GET in `requests` asked for a range and none of them for a byte of `kept` (the
 * spans the failed run left): a steal may split a range, so their sum can exceed what was missing.
 */
function onlyTheRest(
  requests: ScriptedServer['requests'],
  kept: ReadonlyArray<readonly [number, number]>,
): boolean {
  return requests
    .filter((r) => r.method === 'GET')
    .every((r) => {
      const range = rangeOf(r.range, SIZE);
      return range !== undefined && kept.every(([a, b]) => range.end < a || range.start >= b);
    });
}

const MODES = [
  // two segments of 128 KiB, each cut at CUT: [0, CUT) and [128 KiB, 128 KiB + CUT) are kept
  [
    'segments (2 connections)',
    {
      stream: false,
      cuts: 2,
      kept: [
        [0, CUT],
        [SIZE / 2, SIZE / 2 + CUT],
      ],
      opts: { connections: 2, minSegmentSize: 16 * KiB },
    },
  ],
  // HEAD without a size: one stream, [0, CUT) kept
  ['one stream', { stream: true, cuts: 1, kept: [[0, CUT]], opts: {} }],
] as const;

describe('download: a failure says what it kept, and --continue goes on from it', () => {
  it.each(MODES)(
    '%s: retries used up → kept, resumable; continue fetches only the rest',
    async (_name, mode) => {
      const { data, out, part, s } = await failingSetup(mode);
      const options: DownloadOptions = { dir: out, retries: 1, retryDelayMs: 1, ...mode.opts };
      const err = await failure(download(s.url, options).promise);
      // the failure's own code and message, as before
      expect(err.code).toBe('NETKIT_CONNECT_FAILED');
      expect(err.message).toMatch(/^gave up after 1 retry: /);
      const kept = CUT * mode.cuts;
      expect(err.kept).toEqual({ part, bytes: kept, resumable: true, control: `${part}.netkit` });
      expect(keptLine(err)).toBe(`netkit: kept ${part} — run again with --continue to resume`);
      expect((await readdir(out)).sort()).toEqual(['file.bin.part', 'file.bin.part.netkit']);

      s.failing = false;
      const before = s.requests.length;
      const result = await download(s.url, { ...options, continue: true }).promise;
      expect(result).toMatchObject({ resumedBytes: kept, bytesFetched: SIZE - kept });
      // only ranges, none of them for a byte it kept
      const again = s.requests.slice(before).filter((r) => r.method === 'GET');
      expect(again.every((r) => r.ifRange === '"v1"')).toBe(true);
      expect(onlyTheRest(again, mode.kept)).toBe(true);
      expect(sha256(await readFile(result.file))).toBe(sha256(data));
      expect(await readdir(out)).toEqual(['file.bin']);
    },
  );

  it('one stream without byte ranges: kept, but it cannot be resumed, and it says why', async () => {
    const { out, part, s } = await failingSetup({ stream: true, ranges: false, cuts: 1 });
    const err = await failure(download(s.url, { dir: out, retries: 0 }).promise);
    const why = 'one stream, without byte ranges';
    expect(err.kept).toEqual({ part, bytes: CUT, resumable: false, why });
    expect(keptLine(err)).toBe(`netkit: kept ${part}, but it cannot be resumed (${why})`);
    // and nothing beside the .part claims to resume it
    expect(await readdir(out)).toEqual(['file.bin.part']);
  });

  it('a checksum mismatch keeps the .part, which cannot be resumed (its message as before)', async () => {
    const { data, out, part, s } = await failingSetup({ cuts: 0 });
    s.failing = false;
    const wrong = '0'.repeat(64);
    const err = await failure(download(s.url, { dir: out, checksum: `sha256=${wrong}` }).promise);
    expect(err.code).toBe('NETKIT_CHECKSUM');
    expect(err.message).toBe(`sha256 mismatch: expected ${wrong}, got ${sha256(data)} (kept ${part})`);
    expect(err.kept).toEqual({ part, bytes: SIZE, resumable: false, why: 'sha256 mismatch' });
    expect(keptLine(err)).toBe(`netkit: kept ${part}, but it cannot be resumed (sha256 mismatch)`);
  });

  it('nothing kept, nothing said: a failure before the .part, or before its first byte', async () => {
    const out = await outDir();
    const part = path.join(out, 'file.bin.part');
    const gone = await scriptedServer((_req, res) => {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    });
    cleanups.push(() => gone.close());
    const notFound = await failure(download(gone.url, { dir: out }).promise);
    expect(notFound.code).toBe('NETKIT_NOT_FOUND');
    expect('kept' in notFound).toBe(false);
    expect(keptLine(notFound)).toBeUndefined();

    // every GET reset before an answer: the .part is there, and holds nothing
    const reset = await scriptedServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'accept-ranges': 'bytes', etag: '"v1"', 'content-length': SIZE });
        return res.end();
      }
      req.socket.resetAndDestroy();
    });
    cleanups.push(() => reset.close());
    const err = await failure(download(reset.url, { dir: out, retries: 0, connections: 1 }).promise);
    expect(err.kept).toMatchObject({ part, bytes: 0 });
    expect(keptLine(err)).toBeUndefined();
  });
});

describe('download: one stream stopped by Ctrl-C syncs its .part', () => {
  it('the .part is synced at the length it stopped at, before the rejection', async () => {
    const data = randomBytes(SIZE);
    const out = await outDir();
    const part = path.join(out, 'file.bin.part');
    const synced: number[] = [];
    const sync = PartFile.prototype.sync;
    vi.spyOn(PartFile.prototype, 'sync').mockImplementation(async function (this: PartFile) {
      synced.push(await this.size());
      return sync.call(this);
    });
    // a stream that sends CUT bytes and then nothing: Ctrl-C once they are on disk
    const s = await scriptedServer((req, res) => {
      const base = { 'accept-ranges': 'bytes', etag: '"v1"' };
      if (req.method === 'HEAD') {
        res.writeHead(200, { ...base, 'transfer-encoding': 'chunked' });
        return res.end();
      }
      res.writeHead(200, { ...base, 'content-length': SIZE });
      res.write(data.subarray(0, CUT));
    });
    cleanups.push(() => s.close());
    const h = download(s.url, { dir: out });
    await onDisk(part, data.subarray(0, CUT), 0);
    h.abort();
    const err = await failure(h.promise);
    expect(err.kept).toEqual({ part, bytes: CUT, resumable: true, control: `${part}.netkit` });
    expect(synced.at(-1)).toBe(CUT);
    expect((await stat(part)).size).toBe(CUT);
  });
});

describe('netkit download: after a failure, one line says what was kept', () => {
  it.each(MODES)(
    '%s: "kept FILE.part — run again with --continue", and --continue resumes',
    async (_name, mode) => {
      const { data, out, part, s } = await failingSetup(mode);
      const flags = mode.stream ? [] : ['-c', '2', '-k', '16k'];
      // --json: nothing on stdout on failure (there is no JSON for one); both lines go to stderr
      const r = await netkit(['download', '--json', '--quiet', '--retries', '1', ...flags, '-d', out, s.url]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^netkit: gave up after 1 retry: /);
      expect(lines[1]).toBe(`netkit: kept ${part} — run again with --continue to resume`);

      s.failing = false;
      const before = s.requests.length;
      const again = await netkit(['download', '--continue', '--json', '--quiet', ...flags, '-d', out, s.url]);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      const kept = CUT * mode.cuts;
      expect(JSON.parse(again.stdout)).toMatchObject({ resumedBytes: kept, bytesFetched: SIZE - kept });
      expect(onlyTheRest(s.requests.slice(before), mode.kept)).toBe(true);
      expect(sha256(await readFile(path.join(out, 'file.bin')))).toBe(sha256(data));
    },
  );
});
