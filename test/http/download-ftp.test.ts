/**
 * `download()` of ftp:// URLs, as aria2c does them: segments as REST + RETR on connections of
 * their own, against our FTP server, Debian's pyftpdlib and vsftpd (independent servers); resume
 * from the control file, a remote file that changed between runs, a missing file (one error, no
 * retries), credentials from the URL kept out of traces and results, FTPS (explicit AUTH TLS with
 * `ftpTls`, implicit with ftps://; ours and pure-ftpd requiring TLS), and the CLI.
 */
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FTPError } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { toFtpClientError } from '../../src/ftp/client.js';
import { createFtpServer, type FtpServerHandle } from '../../src/ftp/server.js';
import { type FetchContext, type LiveSegment, RetryableError } from '../../src/http/download/fetch.js';
import { classifyFtp, FtpRangeFetcher, FtpSource } from '../../src/http/download/ftp-source.js';
import { type DownloadProgress, type DownloadStart, download } from '../../src/http/download/index.js';
import { PartFile } from '../../src/http/download/writer.js';
import { pattern, startPyftpdlib, startVsftpd } from '../ftp/client-helpers.js';
import { fakeFtp } from '../ftp/fake-ftp.js';
import { netkit, tempDir } from '../helpers/net.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';
import { startPureFtpd } from '../helpers/pure-ftpd.js';
import { freePort } from '../sockets/peers.js';

const MiB = 1024 * 1024;
const DATA = pattern(3 * MiB + 12_345, 7);

let base: string;
let cleanup: () => Promise<void>;
let ours: FtpServerHandle;
/** the same server, each download paced so a run can be stopped half-way */
let slow: FtpServerHandle;
let n = 0;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-download-ftp-'));
  const root = path.join(base, 'ftp');
  const data = path.join(base, 'data');
  await mkdir(path.join(root, 'pub'), { recursive: true });
  await writeFile(path.join(root, 'pub/big.bin'), DATA);
  await new AccountStore(data).add('alice', 'p@ss:w/rd');
  await mkdir(path.join(root, 'home/alice'), { recursive: true });
  await writeFile(path.join(root, 'home/alice/private.bin'), DATA.subarray(0, 700_000));
  const common = { root, dataDir: data, port: 0, tls: false as const, loginFailureDelayMs: 10 };
  ours = await createFtpServer(common);
  slow = await createFtpServer({ ...common, limits: { downloadRate: 2 * MiB } });
});
afterAll(async () => {
  await ours?.close(200);
  await slow?.close(200);
  await cleanup();
});

/** A fresh output directory. */
async function outDir(): Promise<string> {
  const d = path.join(base, `out-${++n}`);
  await mkdir(d);
  return d;
}

describe('download ftp://', () => {
  it('fetches segments over several connections with REST, byte-identical', async () => {
    const dir = await outDir();
    const traces: TraceEvent[] = [];
    const starts: DownloadStart[] = [];
    const h = download(`ftp://127.0.0.1:${ours.port}/pub/big.bin`, {
      dir,
      connections: 4,
      minSegmentSize: 256 * 1024,
    });
    h.on('trace', (ev) => traces.push(ev));
    h.on('start', (s) => starts.push(s));
    const r = await h.promise;
    expect(r).toMatchObject({
      mode: 'segmented',
      connections: 4,
      size: DATA.length,
      bytesFetched: DATA.length,
    });
    expect((await readFile(r.file)).equals(DATA)).toBe(true);
    expect(starts[0]).toMatchObject({ mode: 'segmented', size: DATA.length });
    const rests = traces.filter((t) => t.kind === 'out' && /^REST [1-9]/.test(t.text));
    expect(rests.length).toBeGreaterThanOrEqual(3);
    // a RETR cut short (no 226) leaves its connection mid-transfer: no second RETR may follow on it
    const open = new Map<number, boolean>();
    for (const t of traces) {
      if (t.kind === 'out' && t.text.startsWith('RETR')) {
        expect(open.get(t.conn)).not.toBe(true);
        open.set(t.conn, true);
      } else if (t.kind === 'in' && t.text.startsWith('226')) open.set(t.conn, false);
    }
    // one connection per segment at least: four RETRs on four connections
    expect(open.size).toBeGreaterThanOrEqual(4);
  });

  it('resumes from the control file after a stop: only the missing bytes are fetched', async () => {
    const dir = await outDir();
    const url = `ftp://127.0.0.1:${slow.port}/pub/big.bin`;
    const first = download(url, {
      dir,
      connections: 3,
      minSegmentSize: 256 * 1024,
      progressIntervalMs: 20,
      controlIntervalMs: 50,
    });
    first.on('progress', (p: DownloadProgress) => {
      if (p.done >= MiB) first.abort();
    });
    await expect(first.promise).rejects.toThrow(/interrupted; the \.part file is kept/);
    await stat(path.join(dir, 'big.bin.part'));
    const second = await download(url, { dir, connections: 3, minSegmentSize: 256 * 1024, continue: true })
      .promise;
    expect(second.resumedBytes).toBeGreaterThan(0);
    expect(second.bytesFetched).toBeLessThan(DATA.length);
    expect(second.resumedBytes + second.bytesFetched).toBeGreaterThanOrEqual(DATA.length);
    expect((await readFile(second.file)).equals(DATA)).toBe(true);
  });

  it('starts over when the remote file changed between runs (SIZE and MDTM differ)', async () => {
    const dir = await outDir();
    const file = path.join(base, 'ftp/pub/changing.bin');
    await writeFile(file, pattern(MiB, 3));
    const url = `ftp://127.0.0.1:${slow.port}/pub/changing.bin`;
    const first = download(url, {
      dir,
      connections: 2,
      minSegmentSize: 128 * 1024,
      progressIntervalMs: 20,
      controlIntervalMs: 50,
    });
    first.on('progress', (p: DownloadProgress) => {
      if (p.done >= 300_000) first.abort();
    });
    await expect(first.promise).rejects.toThrow(/interrupted/);
    const replaced = pattern(MiB + 777, 4);
    await writeFile(file, replaced);
    const traces: string[] = [];
    const h = download(url, { dir, connections: 2, minSegmentSize: 128 * 1024, continue: true });
    h.on('trace', (ev: TraceEvent) => traces.push(ev.text));
    const r = await h.promise;
    expect(r.resumedBytes).toBe(0);
    expect(traces.some((t) => /remote file changed since the last run/.test(t))).toBe(true);
    expect((await readFile(r.file)).equals(replaced)).toBe(true);
  });

  it('asks SIZE and MDTM before every segment: a file replaced between two segments is a restart', async () => {
    const file = path.join(base, 'ftp/pub/replaced.bin');
    const old = pattern(MiB, 5);
    await writeFile(file, old);
    const source = new FtpSource(`ftp://127.0.0.1:${ours.port}/pub/replaced.bin`, {
      timeoutMs: 10_000,
      onTrace: () => {},
    });
    const info = await source.probe();
    const partPath = path.join(await outDir(), 'replaced.part');
    const part = await PartFile.open(partPath, { fresh: true, size: MiB });
    const ctx = {
      signal: new AbortController().signal,
      onBytes: () => {},
      part,
      size: MiB,
      lastModified: info.lastModified,
    } as unknown as FetchContext;
    const fetcher = new FtpRangeFetcher(source, ctx);
    try {
      // the last segment runs to the end: its connection is kept for the next one
      const tail: LiveSegment = { id: 1, start: MiB / 2, pos: MiB / 2, end: MiB, conn: 1 };
      await fetcher.fetchRange(tail);
      expect(tail.pos).toBe(MiB);
      // same size, newer time: only MDTM can tell
      await writeFile(file, pattern(MiB, 6));
      await utimes(file, new Date(), new Date(Date.now() + 120_000));
      const head: LiveSegment = { id: 2, start: 0, pos: 0, end: MiB / 2, conn: 1 };
      await expect(fetcher.fetchRange(head)).rejects.toMatchObject({
        kind: 'changed',
        message: expect.stringMatching(/^the remote file changed \(MDTM /),
      });
      expect(head.pos).toBe(0); // nothing of the new version was written
      // a different size on a fresh connection
      await writeFile(file, pattern(MiB + 1, 7));
      await expect(fetcher.fetchRange(head)).rejects.toThrow(
        /the remote file changed \(SIZE 1048577, was 1048576\)/,
      );
      const got = await readFile(partPath);
      expect(got.subarray(MiB / 2).equals(old.subarray(MiB / 2))).toBe(true);
    } finally {
      fetcher.drop();
      await part.close();
    }
  });

  it('a missing file is one error with the server reply, without retries', async () => {
    const dir = await outDir();
    const started = performance.now();
    await expect(
      download(`ftp://127.0.0.1:${ours.port}/pub/nope.bin`, { dir, retryDelayMs: 2000 }).promise,
    ).rejects.toThrow(/RETR pub\/nope\.bin: 550 No such file/);
    expect(performance.now() - started).toBeLessThan(2000); // no backoff was waited
    // the CLI says it in one line: no progress line for a transfer that never moved a byte
    const r = await netkit(['download', `ftp://127.0.0.1:${ours.port}/pub/nope.bin`], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: [^\n]*RETR pub\/nope\.bin: 550 No such file[^\n]*\n$/);
  });

  it('logs in with the URL credentials, which stay out of traces and the result', async () => {
    const dir = await outDir();
    const traces: string[] = [];
    const h = download(`ftp://alice:p%40ss%3Aw%2Frd@127.0.0.1:${ours.port}/private.bin`, {
      dir,
      connections: 2,
      minSegmentSize: 128 * 1024,
    });
    h.on('trace', (ev: TraceEvent) => traces.push(ev.text));
    const r = await h.promise;
    expect((await readFile(r.file)).equals(DATA.subarray(0, 700_000))).toBe(true);
    expect(r.url).toBe(`ftp://127.0.0.1:${ours.port}/private.bin`);
    expect(traces).toContain('USER alice');
    expect(traces.join('\n')).not.toMatch(/p@ss|w\/rd|p%40ss/);
  });

  it('refuses a directory URL and an explicit --proxy with one usage error', async () => {
    await expect(download(`ftp://127.0.0.1:${ours.port}/pub/`).promise).rejects.toThrow(/names a directory/);
    await expect(
      download(`ftp://127.0.0.1:${ours.port}/pub/big.bin`, { proxy: 'http://127.0.0.1:3128' }).promise,
    ).rejects.toThrow(/--proxy applies to http:\/\/ and https:\/\/ only/);
  });
});

/** Four segments from `url`, byte-identical to DATA. */
async function expectSegmented(url: string): Promise<void> {
  const dir = await outDir();
  const r = await download(url, { dir, connections: 4, minSegmentSize: 256 * 1024 }).promise;
  expect(r).toMatchObject({ mode: 'segmented', connections: 4 });
  expect((await readFile(r.file)).equals(DATA)).toBe(true);
}

describe('download ftp:// from independent servers', () => {
  it('pyftpdlib: segmented, byte-identical', async () => {
    const home = path.join(base, 'py-home');
    const anon = path.join(base, 'py-anon');
    await mkdir(home, { recursive: true });
    await mkdir(anon, { recursive: true });
    await writeFile(path.join(anon, 'big.bin'), DATA);
    const py = await startPyftpdlib('u', 'pw', home, anon);
    try {
      await expectSegmented(`ftp://127.0.0.1:${py.port}/big.bin`);
    } finally {
      await py.stop();
    }
  });

  it('vsftpd: segmented, byte-identical', async () => {
    const root = path.join(base, 'vs-root');
    await mkdir(path.join(root, 'pub'), { recursive: true });
    await mkdir(path.join(root, 'incoming'), { recursive: true });
    await writeFile(path.join(root, 'pub/big.bin'), DATA);
    const scratch = path.join(base, 'vs-scratch');
    await mkdir(scratch, { recursive: true });
    const vs = await startVsftpd(root, scratch);
    try {
      await expectSegmented(`ftp://127.0.0.1:${vs.port}/pub/big.bin`);
    } finally {
      await vs.stop();
    }
  });
});

describe('download over FTPS', () => {
  /** the TRACE lines that prove a connection's commands and data went encrypted */
  const secured = (traces: TraceEvent[]) => ({
    auth: traces.some((t) => t.kind === 'out' && t.text === 'AUTH TLS'),
    prot: traces.some((t) => t.kind === 'out' && t.text === 'PROT P'),
  });

  it('ours: --ftp-tls (AUTH TLS, PROT P) and ftps:// (implicit), segmented and byte-identical', async () => {
    const tlsServer = await createFtpServer({
      root: path.join(base, 'ftp'),
      dataDir: path.join(base, 'data'),
      port: 0,
      tls: true,
      tlsPort: 0,
      requireTls: true, // a cleartext login would be refused: the download must have used TLS
      loginFailureDelayMs: 10,
    });
    try {
      const ca = await readFile(path.join(base, 'data/tls/dev-cert.pem'), 'utf8');
      for (const [url, ftpTls] of [
        [`ftp://127.0.0.1:${tlsServer.port}/pub/big.bin`, true],
        [`ftps://127.0.0.1:${tlsServer.tlsPort}/pub/big.bin`, false],
      ] as const) {
        const dir = await outDir();
        const traces: TraceEvent[] = [];
        const h = download(url, { dir, connections: 3, minSegmentSize: 512 * 1024, ftpTls, ca });
        h.on('trace', (ev) => traces.push(ev));
        const r = await h.promise;
        expect(r).toMatchObject({ mode: 'segmented', connections: 3 });
        expect((await readFile(r.file)).equals(DATA)).toBe(true);
        expect(secured(traces)).toEqual({ auth: ftpTls, prot: true });
      }
    } finally {
      await tlsServer.close(200);
    }
  });

  it('pure-ftpd requiring TLS: the CLI with --ftp-tls and --cacert; without --ftp-tls the login is refused', async () => {
    const root = path.join(base, 'pure-root');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'big.bin'), DATA);
    await mkdir(path.join(base, 'pure-cert'), { recursive: true });
    const { certFile, keyFile } = await opensslCertificate(path.join(base, 'pure-cert'));
    const tls = { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
    const pf = await startPureFtpd(root, path.join(base, 'pure-scratch'), { tls, tlsRequired: true });
    try {
      const url = `ftp://${pf.user}:${encodeURIComponent(pf.password)}@127.0.0.1:${pf.port}/big.bin`;
      const dir = await outDir();
      const r = await netkit(
        ['download', '--ftp-tls', '--cacert', certFile, '--json', '--quiet', '-c', '3', '-k', '512K', url],
        { cwd: dir },
      );
      expect(r.code, r.stderr + pf.stderr()).toBe(0);
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ mode: 'segmented', connections: 3 });
      expect((await readFile(path.join(dir, 'big.bin'))).equals(DATA)).toBe(true);
      const plain = await netkit(['download', '--quiet', '--retries', '0', url], { cwd: await outDir() });
      expect(plain.code).not.toBe(0);
      expect(plain.stderr).toMatch(/: 421-.*cleartext.*TLS/); // pure-ftpd's refusal, in one line
    } finally {
      await pf.stop();
    }
  });

  it('--ftp-tls with an ftps:// or http:// URL is one usage error', async () => {
    await expect(
      download(`ftps://127.0.0.1:${ours.port}/pub/big.bin`, { ftpTls: true }).promise,
    ).rejects.toThrow(/--ftp-tls \(explicit\) and ftps:\/\/ \(implicit TLS\) exclude each other/);
    await expect(download('http://127.0.0.1:1/f.bin', { ftpTls: true }).promise).rejects.toThrow(
      /--ftp-tls applies to ftp:\/\/ URLs only/,
    );
  });
});

describe('download ftp:// in one stream (no SIZE, no REST STREAM)', () => {
  it('fetches the whole file with one RETR', async () => {
    const fake = await fakeFtp({ files: { 'f.bin': DATA.subarray(0, 500_000) }, sizes: { 'f.bin': -1 } });
    try {
      const r = await download(`ftp://127.0.0.1:${fake.port}/f.bin`, { dir: await outDir() }).promise;
      expect(r).toMatchObject({ mode: 'single', size: 500_000 });
      expect((await readFile(r.file)).equals(DATA.subarray(0, 500_000))).toBe(true);
      expect(fake.commands.filter((c) => c.startsWith('REST'))).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('a 426 after the data is never a finished file, even when the data connection closed cleanly', async () => {
    const fake = await fakeFtp({
      files: { 'f.bin': DATA.subarray(0, 200_000) },
      sizes: { 'f.bin': -1 },
      retrDone: '426 Failure writing network stream.',
    });
    try {
      const dir = await outDir();
      await expect(
        download(`ftp://127.0.0.1:${fake.port}/f.bin`, { dir, retries: 1, retryDelayMs: 10 }).promise,
      ).rejects.toThrow(/^gave up after 1 retry: .*426 Failure writing network stream/);
      await expect(stat(path.join(dir, 'f.bin'))).rejects.toThrow(/ENOENT/);
      expect(fake.commands.filter((c) => c.startsWith('RETR'))).toHaveLength(2);
    } finally {
      await fake.close();
    }
  });
});

describe('download ftp://: refused (see retryConnRefused), reset and timed-out connections are retried, as over HTTP', () => {
  const sys = (message: string, code: string, extra: object = {}) =>
    Object.assign(new Error(message), { code, ...extra });
  // how FtpClient.connect reports a failed connection (toFtpClientError with the peer)
  const connecting = (err: Error) => toFtpClientError(err, 'connect 127.0.0.1:9', { peer: '127.0.0.1:9' });
  it.each([
    [
      'refused',
      connecting(sys('connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED', { syscall: 'connect' })),
      'connection refused by 127.0.0.1:9',
    ],
    ['reset mid-transfer', sys('read ECONNRESET', 'ECONNRESET'), 'RETR /f.bin: read ECONNRESET'],
    ['broken pipe', sys('write EPIPE', 'EPIPE'), 'RETR /f.bin: write EPIPE'],
    [
      'connect timed out',
      connecting(sys('connect ETIMEDOUT 127.0.0.1:9', 'ETIMEDOUT', { syscall: 'connect' })),
      'connect to 127.0.0.1:9 timed out',
    ],
    ['no reply in time', new Error('Timeout (control socket)'), 'RETR /f.bin: Timeout (control socket)'],
    [
      'DNS did not answer',
      connecting(
        sys('getaddrinfo EAI_AGAIN ftp.test', 'EAI_AGAIN', { syscall: 'getaddrinfo', hostname: 'ftp.test' }),
      ),
      'cannot resolve host "ftp.test"',
    ],
    [
      '421 (a transient reply)',
      new FTPError({ code: 421, message: '421 Too many users' }),
      'RETR /f.bin: 421 Too many users',
    ],
  ])('%s: retried', (_name, err, message) => {
    const c = classifyFtp(err, 'RETR /f.bin');
    expect(c).toBeInstanceOf(RetryableError);
    expect((c as Error).message).toBe(message);
  });

  it.each([
    [
      'an unknown host',
      connecting(
        sys('getaddrinfo ENOTFOUND ftp.test', 'ENOTFOUND', { syscall: 'getaddrinfo', hostname: 'ftp.test' }),
      ),
      'NETKIT_NOT_FOUND',
    ],
    [
      'an unreachable host',
      connecting(sys('connect EHOSTUNREACH 127.0.0.1:9', 'EHOSTUNREACH', { syscall: 'connect' })),
      'NETKIT_CONNECT_FAILED',
    ],
    [
      'a certificate not trusted',
      connecting(sys('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')),
      'NETKIT_CONNECT_FAILED',
    ],
    ['550', new FTPError({ code: 550, message: '550 No such file' }), 'NETKIT_PROTOCOL'],
    ['a login refused', new FTPError({ code: 530, message: '530 Login incorrect' }), 'NETKIT_AUTH'],
  ])('%s: not retried', (_name, err, code) => {
    const c = classifyFtp(err, 'RETR /f.bin');
    expect(c).not.toBeInstanceOf(RetryableError);
    expect(c).toMatchObject({ code });
  });

  it('retryConnRefused: a server that comes up while the download waits to retry is found', async () => {
    const port = await freePort();
    const h = download(`ftp://127.0.0.1:${port}/pub/big.bin`, {
      dir: await outDir(),
      connections: 2,
      retries: 8,
      retryDelayMs: 20,
      retryConnRefused: true,
    });
    const traces: string[] = [];
    let late: Promise<FtpServerHandle> | undefined;
    h.on('trace', (ev: TraceEvent) => {
      traces.push(ev.text);
      // the first refusal was seen: now the server starts on that port
      if (ev.text.startsWith('retry 1/8 ') && !late)
        late = createFtpServer({
          root: path.join(base, 'ftp'),
          dataDir: path.join(base, 'data'),
          port,
          tls: false,
        });
    });
    try {
      const r = await h.promise;
      expect(r).toMatchObject({ mode: 'segmented', size: DATA.length });
      expect((await readFile(r.file)).equals(DATA)).toBe(true);
      expect(traces).toContain(`retry 1/8 in 20 ms: connection refused by 127.0.0.1:${port}`);
    } finally {
      await (await late)?.close(200);
    }
  });
});

describe('netkit download ftp:// (CLI)', () => {
  it('prints the JSON summary and saves the file', async () => {
    const dir = await outDir();
    const r = await netkit(
      ['download', '--json', '--quiet', '-c', '3', '-k', '512K', `ftp://127.0.0.1:${ours.port}/pub/big.bin`],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim());
    expect(summary).toMatchObject({ mode: 'segmented', connections: 3, size: DATA.length });
    expect((await readFile(path.join(dir, 'big.bin'))).equals(DATA)).toBe(true);
  });
});
