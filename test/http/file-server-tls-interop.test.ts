/**
 * `netkit http serve` over HTTPS against independent clients: curl (verified with --cacert, and
 * -k), wget --ca-certificate, aria2c --ca-certificate over parallel ranged connections, Python's
 * urllib.request with an ssl context, openssl s_client (ALPN), and netkit's own `download` and
 * `http get`; plain HTTP and HTTPS served together by one CLI process, HTTPS only with --tls.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTls } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { PLAIN_HTTP_ON_TLS_PORT } from '../../src/http/file-server-tls.js';
import { netkit, run, startServe, tempDir } from '../helpers/net.js';

let dir: string;
let root: string;
let data: string;
/** the development certificate the server presents */
let caFile: string;
let cleanup: () => Promise<void>;
let big: Buffer;
let bigSha: string;
/** a library server, so that the tests can watch its trace */
let server: FileServerHandle;
/** `https://127.0.0.1:PORT/` of the library server */
let base: string;
/** the CLI server: plain and HTTPS in one process */
let cli: Awaited<ReturnType<typeof startServe>>;
let cliPlain: number;
let cliTls: number;
const traces: TraceEvent[] = [];

const MTIME = new Date('2024-03-04T05:06:07Z');

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-fs-tls-interop-'));
  root = path.join(dir, 'root');
  data = path.join(dir, 'data');
  await mkdir(path.join(root, 'sub dir'), { recursive: true });
  big = randomBytes(4 * 1024 * 1024 + 321);
  bigSha = createHash('sha256').update(big).digest('hex');
  await writeFile(path.join(root, 'big.bin'), big);
  await writeFile(path.join(root, 'hello.txt'), 'hello, world\n');
  await writeFile(path.join(root, 'sub dir', 'a&b.txt'), 'ab');
  await utimes(path.join(root, 'hello.txt'), MTIME, MTIME);
  const material = await loadTls(data);
  caFile = path.join(data, 'tls', 'dev-cert.pem');
  server = await createFileServer({ root, port: 0, tlsOnly: true, tls: material });
  server.on('trace', (ev: TraceEvent) => traces.push(ev));
  base = server.url;
  cli = await startServe(['http', 'serve', root, '--port', '0', '--tls-port', '0', '--data', data], 2);
  cliPlain = cli.listening.find((l) => !l.tls)!.port;
  cliTls = cli.listening.find((l) => l.tls)!.port;
});

afterAll(async () => {
  await cli?.stop();
  await server?.close(500);
  await cleanup?.();
});

describe('HTTPS interop: curl', () => {
  it('downloads byte-identical with --cacert (verified), and with -k', async () => {
    const out = path.join(dir, 'curl.bin');
    const r = await run('curl', ['-sS', '--cacert', caFile, '-o', out, `${base}big.bin`]);
    expect(r.code, r.stderr).toBe(0);
    expect(
      createHash('sha256')
        .update(await readFile(out))
        .digest('hex'),
    ).toBe(bigSha);
    const k = await run('curl', ['-sS', '-k', `${base}hello.txt`]);
    expect(k.stdout).toBe('hello, world\n');
    // without the certificate, curl refuses the self-signed one: verification is real
    const untrusted = await run('curl', ['-sS', `${base}hello.txt`]);
    expect(untrusted.code).toBe(60);
  });

  it('ranges with -r: one (206) and several (multipart/byteranges)', async () => {
    const one = await run('curl', ['-sS', '--cacert', caFile, '-r', '100-199', `${base}big.bin`]);
    expect(one.stdoutBuf.equals(big.subarray(100, 200))).toBe(true);
    const several = await run('curl', ['-sS', '-i', '--cacert', caFile, '-r', '0-9,20-29', `${base}big.bin`]);
    expect(several.stdout).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
    expect(several.stdout).toMatch(/\r\nContent-Type: multipart\/byteranges; boundary=/);
    expect(several.stdout).toContain(`Content-Range: bytes 20-29/${big.length}`);
  });

  it('-z (If-Modified-Since) gets 304 for an unchanged file, 200 for a changed one; -I is HEAD', async () => {
    const code = (since: string) =>
      run('curl', [
        '-sS',
        '--cacert',
        caFile,
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-z',
        since,
        `${base}hello.txt`,
      ]);
    expect((await code('Tue, 05 Mar 2024 00:00:00 GMT')).stdout).toBe('304');
    expect((await code('Sun, 03 Mar 2024 00:00:00 GMT')).stdout).toBe('200');
    const head = await run('curl', ['-sS', '-I', '--cacert', caFile, `${base}big.bin`]);
    expect(head.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.stdout).toContain(`Content-Length: ${big.length}\r\n`);
    expect(head.stdout).toContain('Accept-Ranges: bytes\r\n');
  });

  it('gets a directory listing', async () => {
    const r = await run('curl', ['-sS', '--cacert', caFile, `${base}sub%20dir/`]);
    expect(r.stdout).toContain('a&amp;b.txt');
    const json = await run('curl', ['-sS', '--cacert', caFile, `${base}?format=json`]);
    expect(JSON.parse(json.stdout).entries.map((e: { name: string }) => e.name)).toContain('big.bin');
  });

  it('--http2 falls back to HTTP/1.1 (ALPN http/1.1 only)', async () => {
    const r = await run('curl', [
      '-sS',
      '--http2',
      '--cacert',
      caFile,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${base}hello.txt`,
    ]);
    expect(r.stdout).toBe('1.1 200');
  });

  it('a rebound name is refused over HTTPS too (403), localhost is served', async () => {
    const port = server.port;
    const evil = await run('curl', [
      '-sS',
      '-k',
      '--resolve',
      `evil.example:${port}:127.0.0.1`,
      '-w',
      '%{http_code}',
      '-o',
      '/dev/null',
      `https://evil.example:${port}/hello.txt`,
    ]);
    expect(evil.stdout).toBe('403');
    const local = await run('curl', ['-sS', '--cacert', caFile, `https://localhost:${port}/hello.txt`]);
    expect(local.stdout).toBe('hello, world\n');
  });

  it('plain http:// to the HTTPS port gets a readable 400', async () => {
    const r = await run('curl', ['-sS', '-w', '\n%{http_code}', `http://127.0.0.1:${server.port}/hello.txt`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${PLAIN_HTTP_ON_TLS_PORT}\n\n400`);
  });
});

describe('HTTPS interop: wget, aria2c, Python, openssl', () => {
  it('wget --ca-certificate downloads, and resumes with -c', async () => {
    const out = path.join(dir, 'wget.bin');
    const r = await run('wget', ['-q', '--ca-certificate', caFile, '-O', out, `${base}big.bin`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(out)).equals(big)).toBe(true);
    const part = path.join(dir, 'wget-part.bin');
    await writeFile(part, big.subarray(0, 1_000_000));
    const resumed = await run('wget', ['-q', '-c', '--ca-certificate', caFile, '-O', part, `${base}big.bin`]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await readFile(part)).equals(big)).toBe(true);
    const untrusted = await run('wget', ['-q', '-O', '/dev/null', `${base}hello.txt`]);
    expect(untrusted.code).toBe(5); // SSL verification failure
  });

  it('aria2c --ca-certificate -x4 -s4 fetches four ranges over parallel TLS connections, byte-identical', async () => {
    // paced per connection, so that no connection can take the whole file before aria2c has opened
    // others. How many of the four it opens before the first is done depends on the machine's
    // speed (a loaded one saw three), so the test counts the answers that carried a part of the
    // file — -s4: four, whatever the number of connections; aria2c asks for the first part with or
    // without a Range (a 200 it cuts off, a loaded machine saw three 206s), so 200 and 206 both
    // count — and asks for more than one connection, not for exactly four.
    const paced = await createFileServer({
      root,
      port: 0,
      tlsOnly: true,
      tls: await loadTls(data),
      rateLimit: 2 * 1024 * 1024,
    });
    /** the connections that sent a part of the file, and how many parts were sent */
    const ranged = new Set<number>();
    let ranges = 0;
    paced.on('trace', (ev: TraceEvent) => {
      if (ev.kind === 'out' && /^HTTP\/1\.1 20[06] /.test(ev.text)) {
        ranged.add(ev.conn);
        ranges++;
      }
    });
    try {
      const r = await run(
        'aria2c',
        [
          '--no-conf',
          `--ca-certificate=${caFile}`,
          '-x4',
          '-s4',
          '-k1M',
          '--allow-overwrite=true',
          '--auto-file-renaming=false',
          '--file-allocation=none',
          '--console-log-level=warn',
          '--summary-interval=0',
          '-d',
          dir,
          '-o',
          'aria.bin',
          `${paced.url}big.bin`,
        ],
        { timeoutMs: 20_000 },
      );
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const got = await readFile(path.join(dir, 'aria.bin'));
      expect(createHash('sha256').update(got).digest('hex')).toBe(bigSha);
      expect(ranges).toBeGreaterThanOrEqual(4);
      expect(ranged.size).toBeGreaterThan(1);
    } finally {
      await paced.close(0);
    }
  });

  it('Python urllib.request with an ssl context: a file, a Range, a 304, a listing, a 404, an untrusted context', async () => {
    const script = `
import hashlib, json, ssl, sys, urllib.error, urllib.request
base, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
out = {}
with urllib.request.urlopen(base + 'big.bin', context=ctx) as r:
    out['status'] = r.status
    out['sha256'] = hashlib.sha256(r.read()).hexdigest()
    etag = r.headers['ETag']
req = urllib.request.Request(base + 'big.bin', headers={'Range': 'bytes=10-19'})
with urllib.request.urlopen(req, context=ctx) as r:
    out['range'] = [r.status, r.headers['Content-Range'], r.read().hex()]
try:
    urllib.request.urlopen(urllib.request.Request(base + 'big.bin', headers={'If-None-Match': etag}), context=ctx)
    out['revalidate'] = 'no error'
except urllib.error.HTTPError as e:
    out['revalidate'] = e.code
with urllib.request.urlopen(base + 'sub%20dir/', context=ctx) as r:
    out['listing'] = r.read().decode()
try:
    urllib.request.urlopen(base + 'missing.txt', context=ctx)
except urllib.error.HTTPError as e:
    out['missing'] = e.code
try:
    urllib.request.urlopen(base + 'hello.txt', context=ssl.create_default_context())
    out['untrusted'] = 'accepted'
except urllib.error.URLError as e:
    out['untrusted'] = type(e.reason).__name__
print(json.dumps(out))
`;
    const r = await run('/usr/bin/python3', ['-c', script, base, caFile]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe(200);
    expect(out.sha256).toBe(bigSha);
    expect(out.range).toEqual([206, `bytes 10-19/${big.length}`, big.subarray(10, 20).toString('hex')]);
    expect(out.revalidate).toBe(304);
    expect(out.listing).toContain('a&amp;b.txt');
    expect(out.missing).toBe(404);
    expect(out.untrusted).toBe('SSLCertVerificationError');
  });

  it('openssl s_client: ALPN http/1.1 is chosen, h2 alone is refused', async () => {
    const connect = ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', caFile];
    const h1 = await run('openssl', [...connect, '-alpn', 'h2,http/1.1'], { input: '' });
    expect(h1.stdout).toContain('ALPN protocol: http/1.1');
    expect(h1.stdout).toContain('Verify return code: 0 (ok)');
    const h2 = await run('openssl', [...connect, '-alpn', 'h2'], { input: '' });
    expect(h2.stderr).toMatch(/no application protocol/);
  });
});

describe('HTTPS interop: the CLI server and netkit clients', () => {
  it('one process serves plain HTTP and HTTPS (--port 0 --tls-port 0 --json)', async () => {
    expect(cli.listening).toEqual([
      { service: 'http', host: '127.0.0.1', port: cliPlain, tls: false },
      { service: 'http', host: '127.0.0.1', port: cliTls, tls: true },
    ]);
    const plain = await run('curl', ['-sS', '-r', '0-4', `http://127.0.0.1:${cliPlain}/hello.txt`]);
    expect(plain.stdout).toBe('hello');
    const secure = await run('curl', [
      '-sS',
      '--cacert',
      caFile,
      '-r',
      '0-4',
      `https://127.0.0.1:${cliTls}/hello.txt`,
    ]);
    expect(secure.stdout).toBe('hello');
  });

  it('netkit download over HTTPS: verified through NODE_EXTRA_CA_CERTS or --cacert, or --insecure; refused otherwise', async () => {
    const url = `https://127.0.0.1:${cliTls}/big.bin`;
    const out = path.join(dir, 'dl');
    const trusted = await netkit(
      ['download', url, '-d', out, '-c', '4', '-k', '512k', '--quiet', '--checksum', `sha256=${bigSha}`],
      {
        env: { NODE_EXTRA_CA_CERTS: caFile },
        timeoutMs: 20_000,
      },
    );
    expect(trusted.code, trusted.stderr).toBe(0);
    expect((await readFile(path.join(out, 'big.bin'))).equals(big)).toBe(true);
    const refused = await netkit([
      'download',
      url,
      '-o',
      path.join(dir, 'refused.bin'),
      '--quiet',
      '--retries',
      '0',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/certificate/i);
    const insecure = await netkit([
      'download',
      url,
      '-o',
      path.join(dir, 'insecure.bin'),
      '--quiet',
      '--insecure',
    ]);
    expect(insecure.code, insecure.stderr).toBe(0);
    expect(
      createHash('sha256')
        .update(await readFile(path.join(dir, 'insecure.bin')))
        .digest('hex'),
    ).toBe(bigSha);
    const cacert = await netkit(
      [
        'download',
        url,
        '-o',
        path.join(dir, 'cacert.bin'),
        '-c',
        '4',
        '-k',
        '512k',
        '--quiet',
        '--cacert',
        caFile,
      ],
      { timeoutMs: 20_000 },
    );
    expect(cacert.code, cacert.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'cacert.bin'))).equals(big)).toBe(true);
    const missing = await netkit(['download', url, '--cacert', path.join(dir, 'none.pem')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^netkit: cannot read --cacert/);
  });

  it('netkit http get --cacert, a Range, a refused untrusted certificate', async () => {
    const url = `https://127.0.0.1:${cliTls}/hello.txt`;
    const ok = await netkit(['http', 'get', url, '--cacert', caFile]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('hello, world\n');
    const range = await netkit(['http', 'get', url, '--cacert', caFile, '-H', 'Range: bytes=7-11']);
    expect(range.stdout).toBe('world');
    const refused = await netkit(['http', 'get', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/certificate/i);
  });

  it('--tls serves HTTPS only on --port', async () => {
    const only = await startServe(['http', 'serve', root, '--tls', '--port', '0', '--data', data]);
    try {
      expect(only.listening).toEqual([
        { service: 'http', host: '127.0.0.1', port: only.listening[0]!.port, tls: true },
      ]);
      const r = await run('curl', [
        '-sS',
        '--cacert',
        caFile,
        `https://localhost:${only.listening[0]!.port}/hello.txt`,
      ]);
      expect(r.stdout).toBe('hello, world\n');
    } finally {
      await only.stop();
    }
  });

  it('usage errors exit 2 with one line; --help shows the HTTPS options and examples', async () => {
    const both = await netkit(['http', 'serve', root, '--tls', '--tls-port', '0', '--port', '0']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^netkit: --tls makes --port serve HTTPS; .*pick one\n$/);
    const lonely = await netkit(['http', 'serve', root, '--tls-port', '0', '--port', '0', '--cert', caFile]);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toBe('netkit: --cert and --key go together\n');
    const notTls = await netkit(['http', 'serve', root, '--port', '0', '--cert', caFile, '--key', caFile]);
    expect(notTls.code).toBe(2);
    expect(notTls.stderr).toBe('netkit: --cert and --key need --tls or --tls-port\n');
    const wrongKey = await netkit([
      'http',
      'serve',
      root,
      '--tls',
      '--port',
      '0',
      '--cert',
      caFile,
      '--key',
      caFile,
    ]);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toBe(`netkit: --key ${caFile}: not a PEM private key\n`);
    const help = await netkit(['http', 'serve', '--help']);
    expect(help.stdout).toContain('--tls-port <port>');
    expect(help.stdout).toContain('--handshake-timeout <duration>');
    expect(help.stdout).toMatch(/Examples:[\s\S]*--tls-port 8443[\s\S]*--tls --port 8443/);
  });
});
