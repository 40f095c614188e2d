/**
 * `netkit http get` with curl's transfer flags, end to end (built CLI) against a loopback server:
 * --retry counts and waits, -s/-S, -w's streams, files and timings, --limit-rate's pacing, -o/-O
 * directories, -r/-C edge cases and --meta, and the usage errors.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, tempDir } from '../helpers/net.js';
import { type CurlFlagsServer, startCurlFlagsServer } from './curl-flags-server.js';

let s: CurlFlagsServer;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  s = await startCurlFlagsServer();
  ({ dir, cleanup } = await tempDir('netkit-curl-flags-'));
});
afterAll(async () => {
  await s.close();
  await cleanup();
});

const get = (args: string[], opts: Parameters<typeof netkit>[1] = {}) =>
  netkit(['http', 'get', ...args], opts);

describe('--retry', () => {
  it('a server that fails twice with 503 then succeeds: exactly 3 requests, the last body', async () => {
    const out = path.join(dir, 'retry.txt');
    const r = await get(['--retry', '3', '--retry-delay', '50ms', '-o', out, `${s.origin}/fail/twice`]);
    expect(r.code, r.stderr).toBe(0);
    expect(s.count('/fail/twice')).toBe(3);
    expect(await readFile(out, 'utf8')).toBe('ok after 2\n');
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/\.tmp$/));
    expect(r.stderr.trim().split('\n')).toEqual([
      'netkit: warning: HTTP 503 Service Unavailable: retry 1/3 in 50ms',
      'netkit: warning: HTTP 503 Service Unavailable: retry 2/3 in 50ms',
    ]);
  });

  it('gives up after N retries and keeps the last answer (exit 0 without -f, 1 with it)', async () => {
    const [plain, failing] = await Promise.all([
      get(['--retry', '2', '--retry-delay', '10ms', `${s.origin}/fail/always-a?times=9`]),
      get(['-f', '--retry', '2', '--retry-delay', '10ms', `${s.origin}/fail/always-b?times=9`]),
    ]);
    expect([plain.code, plain.stdout]).toEqual([0, 'failure 3\n']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/^netkit: HTTP 503 Service Unavailable from .*\/fail\/always-b/m);
    expect([s.count('/fail/always-a'), s.count('/fail/always-b')]).toEqual([3, 3]);
  });

  it('honours Retry-After over --retry-delay (a lower bound only)', async () => {
    const started = performance.now();
    const r = await get(['--retry', '1', '--retry-delay', '10ms', `${s.origin}/fail/after?times=1&after=1`]);
    const elapsed = performance.now() - started;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok after 1\n');
    expect(r.stderr).toMatch(/retry 1\/1 in 1s/);
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('does not retry when Retry-After would pass --retry-max-time (as curl)', async () => {
    const r = await get([
      '--retry',
      '3',
      '--retry-max-time',
      '2s',
      `${s.origin}/fail/toolate?times=1&after=60`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('failure 1\n');
    expect(r.stderr).toMatch(/Retry-After time would go past --retry-max-time/);
    expect(s.count('/fail/toolate')).toBe(1);
  });

  it('retries a refused connection only with --retry-connrefused; -s hides the warnings', async () => {
    const url = 'http://127.0.0.1:9/x';
    const [plain, refused, silent] = await Promise.all([
      get(['--retry', '2', '--retry-delay', '10ms', url]),
      get(['--retry', '2', '--retry-delay', '10ms', '--retry-connrefused', url]),
      get(['-sS', '--retry', '2', '--retry-delay', '10ms', '--retry-connrefused', url]),
    ]);
    expect(plain.stderr).toBe('netkit: connection refused by 127.0.0.1:9\n');
    expect(refused.stderr.match(/retry \d\/2 in 10ms/g)).toHaveLength(2);
    expect(refused.code).toBe(1);
    expect(silent.stderr).toBe('netkit: connection refused by 127.0.0.1:9\n');
  });

  it('a body from standard input is read before the first attempt, so a retry sends it again', async () => {
    const r = await netkit(
      [
        'http',
        'post',
        '--retry',
        '1',
        '--retry-delay',
        '10ms',
        '--data-binary',
        '@-',
        `${s.origin}/fail/stdin?times=1`,
      ],
      { input: 'from stdin' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(s.count('/fail/stdin')).toBe(2);
  });
});

describe('-s, -S and -w', () => {
  it('-s: a failed transfer prints nothing (exit 1); -S brings the error line back; usage errors always show', async () => {
    const [silent, shown, usage] = await Promise.all([
      get(['-s', 'http://127.0.0.1:9/x']),
      get(['-s', '-S', 'http://127.0.0.1:9/x']),
      get(['-s', '-r', 'nonsense', `${s.origin}/file`]),
    ]);
    expect([silent.code, silent.stdout, silent.stderr]).toEqual([1, '', '']);
    expect([shown.code, shown.stderr]).toEqual([1, 'netkit: connection refused by 127.0.0.1:9\n']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^netkit: bad range "nonsense"/);
  });

  it('-w after the body, %{stderr} switches streams, @FILE reads the format as curl does', async () => {
    const file = path.join(dir, 'format.txt');
    await writeFile(file, '%{http_code}\n %{stderr}%{size_download}\\n\n');
    const [inline, fromFile] = await Promise.all([
      get(['-w', '\\n%{http_code}%{stderr}err:%{exitcode}\\n', `${s.origin}/fail/w?times=0`]),
      get(['-o', '/dev/null', '-w', `@${file}`, `${s.origin}/file`]),
    ]);
    expect(inline.stdout).toBe('ok after 0\n\n200');
    expect(inline.stderr).toBe('err:0\n');
    expect(fromFile.stdout).toBe('200 ');
    expect(fromFile.stderr).toBe('1000\n');
  });

  it('-w on a failure reports it (%{exitcode}, %{errormsg}, %{onerror}) before the error line', async () => {
    const r = await get([
      '-w',
      'code=%{http_code}%{onerror} exit=%{exitcode} err=%{errormsg}\\n',
      'http://127.0.0.1:9/x',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('code=000 exit=1 err=connection refused by 127.0.0.1:9\n');
    const ok = await get(['-o', '/dev/null', '-w', 'code=%{http_code}%{onerror} never', `${s.origin}/file`]);
    expect(ok.stdout).toBe('code=200');
  });

  it('%{json}: the phases in order, the addresses, the file', async () => {
    const out = path.join(dir, 'json.bin');
    const r = await get(['-L', '-o', out, '-w', '%{json}', `${s.origin}/redirect/1`]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      http_code: 200,
      remote_ip: '127.0.0.1',
      remote_port: s.port,
      local_ip: '127.0.0.1',
      num_redirects: 1,
      num_connects: 1,
      filename_effective: out,
      size_download: 1000,
      exitcode: 0,
    });
    expect(r.stdout).toMatch(/"time_total":\d+\.\d{6}[,}]/);
    expect(j.time_namelookup).toBeLessThanOrEqual(j.time_connect);
    expect(j.time_connect).toBeLessThanOrEqual(j.time_pretransfer);
    expect(j.time_pretransfer).toBeLessThanOrEqual(j.time_starttransfer);
    expect(j.time_starttransfer).toBeLessThanOrEqual(j.time_total);
    expect(j.time_redirect).toBeGreaterThan(0);
    expect(j.size_request).toBeGreaterThan(2 * 'GET / HTTP/1.1\r\n'.length);
  });

  it('%{header_json} and %header{name} read the last response', async () => {
    const r = await get(['-o', '/dev/null', '-w', '%header{x-twice}|%{header_json}', `${s.origin}/echo`]);
    const [first, json] = r.stdout.split('|');
    expect(first).toBe('a');
    expect(JSON.parse(json!)['x-twice']).toEqual(['a', 'b']);
  });
});

describe('--limit-rate', () => {
  it('paces the body: 48 KiB at 32K takes well over a second (lower bound only)', async () => {
    const started = performance.now();
    const r = await get([
      '--limit-rate',
      '32K',
      '-o',
      '/dev/null',
      '-w',
      '%{size_download}',
      `${s.origin}/big`,
    ]);
    const elapsed = performance.now() - started;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(String(48 * 1024));
    // (48 KiB - a 1.6 KiB burst) / 32 KiB/s = 1.45 s
    expect(elapsed).toBeGreaterThanOrEqual(1000);
  });

  it('a bad rate is a usage error', async () => {
    const r = await get(['--limit-rate', 'fast', `${s.origin}/big`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--limit-rate <rate>.*bad rate "fast"/);
  });
});

describe('--max-filesize', () => {
  it('refuses an announced length over the limit before reading, and writes no file', async () => {
    const out = path.join(dir, 'max-announced.bin');
    const r = await get(['--max-filesize', '999', '-o', out, `${s.origin}/file`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'netkit: the file is larger than --max-filesize 999 bytes (the server announced 1000)\n',
    );
    await expect(stat(out)).rejects.toThrow();
    const ok = await get(['--max-filesize', '1000', '-o', out, `${s.origin}/file`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await stat(out)).size).toBe(1000);
  });

  it('stops a chunked body once it grows past the limit: no file, and stdout gets at most the limit', async () => {
    const out = path.join(dir, 'max-stream.bin');
    const r = await get(['--max-filesize', '10K', '-o', out, `${s.origin}/stream?kib=4096`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^netkit: the file is larger than --max-filesize 10240 bytes \(it kept coming past that\)/,
    );
    await expect(stat(out)).rejects.toThrow();
    const piped = await get(['--max-filesize', '10K', '--retry', '3', `${s.origin}/stream?kib=4096`]);
    expect(piped.code).toBe(1);
    expect(piped.stdoutBuf.length).toBeLessThanOrEqual(10 * 1024);
    expect(s.count('/stream')).toBe(2); // no retry: the same body would be as large again
  });

  it('counts what is written: a small gzip body that unpacks past the limit is stopped too', async () => {
    const r = await get(['--compressed', '--max-filesize', '64K', '-o', '/dev/null', `${s.origin}/bomb`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/larger than --max-filesize 65536 bytes/);
  });
});

describe('-o, -O and their directories', () => {
  it('--create-dirs makes the -o directories; without it a missing one fails before any request', async () => {
    const before = s.count('/file');
    const missing = await get(['-o', path.join(dir, 'no/such/f.bin'), `${s.origin}/file`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /cannot write .*no\/such\/f\.bin: no such directory: .*no\/such \(--create-dirs creates it\)/,
    );
    expect(s.count('/file')).toBe(before);
    const made = await get(['--create-dirs', '-o', path.join(dir, 'made/deep/f.bin'), `${s.origin}/file`]);
    expect(made.code, made.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'made/deep/f.bin'))).equals(s.data)).toBe(true);
  });

  it('-o with --output-dir, and -o with -O is a usage error', async () => {
    await mkdir(path.join(dir, 'od'));
    const r = await get(['--output-dir', path.join(dir, 'od'), '-o', 'x.bin', `${s.origin}/file`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'od', 'x.bin'))).length).toBe(1000);
    const both = await get(['-O', '-o', 'x.bin', `${s.origin}/file`]);
    expect(both.code).toBe(2);
  });

  it('-O with a query and a failed transfer leaves no file behind', async () => {
    const d = path.join(dir, 'O-cut');
    await mkdir(d);
    const r = await get(['-O', `${s.origin}/fail/cut.bin?times=9&status=500`, '-f'], { cwd: d });
    expect(r.code).toBe(1);
    expect(await readdir(d)).toEqual([]);
  });
});

describe('-r and -C, beyond curl', () => {
  it('-r on a server that ignores it: the whole body, shown as 200 by -i and as partial:false by --meta', async () => {
    const r = await get(['-r', '0-9', '-i', '--meta', `${s.origin}/norange`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBuf.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
    expect(r.stdoutBuf.subarray(r.stdoutBuf.length - 1000).equals(s.data)).toBe(true);
    expect(JSON.parse(r.stderr)).toMatchObject({ status: 200, range: '0-9', partial: false, bytes: 1000 });
    const partial = await get(['-r', '0-9', '--meta', '-o', '/dev/null', `${s.origin}/file`]);
    expect(JSON.parse(partial.stderr)).toMatchObject({ status: 206, range: '0-9', partial: true, bytes: 10 });
  });

  it('-C N against a file of another size is refused and the file left alone', async () => {
    const file = path.join(dir, 'cn.bin');
    await writeFile(file, s.data.subarray(0, 300));
    const before = s.count('/file');
    const r = await get(['-C', '200', '-o', file, `${s.origin}/file`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/-C 200: .*cn\.bin has 300 bytes, not 200 \(use -C - to resume from its end\)/);
    expect((await readFile(file)).length).toBe(300);
    expect(s.count('/file')).toBe(before);
    const ok = await get(['-C', '300', '-o', file, '--meta', `${s.origin}/file`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readFile(file)).equals(s.data)).toBe(true);
    expect(JSON.parse(ok.stderr)).toMatchObject({ status: 206, resumedAt: 300, range: '300-', bytes: 700 });
  });

  it('-C - without a file there downloads it whole (offset 0), atomically', async () => {
    const file = path.join(dir, 'fresh.bin');
    const r = await get(['-C', '-', '-o', file, '--meta', `${s.origin}/file`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(file)).equals(s.data)).toBe(true);
    expect(JSON.parse(r.stderr).status).toBe(200);
  });

  it('-C - of a 404 appends nothing (curl would refuse too)', async () => {
    const file = path.join(dir, 'c404.bin');
    await writeFile(file, 'abc');
    const r = await get(['-C', '-', '-o', file, `${s.origin}/missing`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot resume .*c404\.bin at byte 3: HTTP 404/);
    expect(await readFile(file, 'utf8')).toBe('abc');
  });

  it.each([
    [['-r', '0-1', '-C', '5'], /give -r or -C, not both/],
    [['-r', '0-1', '-d', 'x'], /-r asks for part of a response, not with a request body/],
    [['-C', 'abc'], /bad -C offset "abc"/],
    [['--connect-timeout', 'soon'], /"soon" is not a duration/],
    [['--retry', '-1'], /--retry <n>.*"-1" must be 0 or more/],
  ])('usage error: %j', async (args, message) => {
    const r = await get([...args, `${s.origin}/file`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('--connect-timeout and -e are accepted and used', async () => {
    const r = await get(['--connect-timeout', '5s', '-e', 'http://from.example/', `${s.origin}/echo`]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).headers.referer).toBe('http://from.example/');
  });
});
