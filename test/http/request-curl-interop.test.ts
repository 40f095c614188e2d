/**
 * `netkit http get` with curl's transfer flags, run side by side with the real **curl** on the same
 * server and the same command line: -w output, -r and -C files byte for byte, -O file names, -D
 * header files, 1xx responses and trailers in -i and -D (and in the -o file with -i), -e ';auto'
 * referers, the credentials a redirect to another host carries, and how many requests --retry makes.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { have, netkit, run, tempDir } from '../helpers/net.js';
import { type CurlFlagsServer, startCurlFlagsServer } from './curl-flags-server.js';

let s: CurlFlagsServer;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  expect(await have('curl')).toBe(true);
  s = await startCurlFlagsServer();
  ({ dir, cleanup } = await tempDir('netkit-curl-flags-'));
});
afterAll(async () => {
  await s.close();
  await cleanup();
});

const curl = (args: string[], opts: Parameters<typeof run>[2] = {}) => run('curl', ['-s', ...args], opts);
const ours = (args: string[], opts: Parameters<typeof run>[2] = {}) =>
  netkit(['http', 'get', '-s', ...args], opts);

/** Run the same arguments through both tools, each in its own new directory. */
async function both(args: (tool: 'curl' | 'netkit') => string[], name: string) {
  const dirs = { curl: path.join(dir, name, 'curl'), netkit: path.join(dir, name, 'netkit') };
  await mkdir(dirs.curl, { recursive: true });
  await mkdir(dirs.netkit, { recursive: true });
  const [c, n] = await Promise.all([
    curl(args('curl'), { cwd: dirs.curl }),
    ours(args('netkit'), { cwd: dirs.netkit }),
  ]);
  return { curl: c, netkit: n, dirs };
}

describe('-w, --write-out: the same output as curl', () => {
  const format =
    '%{http_code} %{response_code} %{size_download} %{size_header} %{num_redirects} %{num_connects} ' +
    '%{num_headers} %{url_effective} [%{content_type}] %{http_version} %{method} %{scheme} ' +
    '%{exitcode} %{filename_effective} [%{redirect_url}] %header{content-length} %% \\t|\\n';

  it('for a URL that redirects twice (-L)', async () => {
    const url = `${s.origin}/redirect/2`;
    const r = await both(() => ['-L', '-o', '/dev/null', '-w', format, url], 'w-redirect');
    expect(r.netkit.code, r.netkit.stderr).toBe(0);
    expect(r.curl.code).toBe(0);
    expect(r.netkit.stdout).toBe(r.curl.stdout);
    expect(r.netkit.stdout).toBe(
      `200 200 1000 ${r.curl.stdout.split(' ')[3]} 2 1 5 ${s.origin}/file [application/octet-stream] 1.1 GET HTTP 0 /dev/null [] 1000 % \t|\n`,
    );
  });

  it('for a redirect not followed, and for a 404', async () => {
    for (const url of [`${s.origin}/redirect/1`, `${s.origin}/missing`]) {
      const r = await both(() => ['-w', format, url], `w-${url.split('/').pop()}`);
      expect(r.netkit.stdout).toBe(r.curl.stdout);
    }
  });

  it('for a refused connection (what there is of it: no status, no version)', async () => {
    const url = 'http://127.0.0.1:9/x';
    const f =
      '%{http_code} %{http_version} %{num_redirects} %{size_download} %{url_effective} %{remote_port}\\n';
    const r = await both(() => ['-w', f, url], 'w-refused');
    expect(r.netkit.code).toBe(1);
    expect(r.curl.code).toBe(7);
    expect(r.netkit.stdout).toBe(r.curl.stdout);
    expect(r.netkit.stdout).toBe('000 0 0 0 http://127.0.0.1:9/x 0\n');
  });

  it('an unknown variable: a warning each, nothing printed for it', async () => {
    const r = await both(
      () => ['-o', '/dev/null', '-w', 'a%{nope}b%{header{content-length}}c\\n', `${s.origin}/file`],
      'w-unknown',
    );
    expect(r.netkit.stdout).toBe(r.curl.stdout);
    expect(r.netkit.stdout).toBe('ab}c\n');
    expect(r.curl.stderr).toMatch(/unknown --write-out variable: 'nope'/);
    expect(r.netkit.stderr).toMatch(/^netkit: warning: unknown --write-out variable: 'nope'$/m);
    expect(r.netkit.stderr).toMatch(
      /^netkit: warning: unknown --write-out variable: 'header\{content-length'$/m,
    );
  });

  it('%{json} has curl’s keys (less the FTP, certificate and proxy ones) and the same values', async () => {
    const r = await both(
      () => ['-L', '-o', '/dev/null', '-w', '%{json}', `${s.origin}/redirect/1`],
      'w-json',
    );
    const c = JSON.parse(r.curl.stdout);
    const n = JSON.parse(r.netkit.stdout);
    const skipped = [
      'certs',
      'num_certs',
      'ftp_entry_path',
      'http_connect',
      'proxy_ssl_verify_result',
      'curl_version',
    ];
    const curlKeys = Object.keys(c).filter((k) => !skipped.includes(k));
    expect(Object.keys(n).filter((k) => k !== 'netkit_version')).toEqual(curlKeys);
    for (const k of [
      'http_code',
      'http_version',
      'size_download',
      'size_header',
      'num_redirects',
      'url',
      'url_effective',
      'method',
      'scheme',
      'remote_ip',
      'remote_port',
      'exitcode',
      'errormsg',
      'content_type',
      'num_headers',
      'redirect_url',
      'referer',
      'filename_effective',
    ])
      expect([k, n[k]]).toEqual([k, c[k]]);
    for (const k of Object.keys(n).filter((x) => x.startsWith('time_'))) expect(typeof n[k]).toBe('number');
  });
});

describe('-r, --range: the same bytes as curl', () => {
  it.each(['0-499', '500-', '-500', '0-0,-1', '0-0', '999-', '5'])('-r %s', async (range) => {
    const r = await both(
      () => ['-r', range, '-o', 'out.bin', '-w', '%{http_code} %{size_download}', `${s.origin}/file`],
      `r${range}`,
    );
    expect(r.netkit.code, r.netkit.stderr).toBe(0);
    expect(r.netkit.stdout).toBe(r.curl.stdout);
    const [a, b] = await Promise.all([
      readFile(path.join(r.dirs.curl, 'out.bin')),
      readFile(path.join(r.dirs.netkit, 'out.bin')),
    ]);
    expect(b.equals(a)).toBe(true);
  });

  it('a server that ignores Range: both write the whole body it sends (200, not 206)', async () => {
    const r = await both(
      () => ['-r', '0-99', '-o', 'out.bin', '-w', '%{http_code} %{size_download}', `${s.origin}/norange`],
      'r-ignored',
    );
    expect(r.netkit.stdout).toBe('200 1000');
    expect(r.netkit.stdout).toBe(r.curl.stdout);
    expect((await readFile(path.join(r.dirs.netkit, 'out.bin'))).equals(s.data)).toBe(true);
  });
});

describe('-C, --continue-at: the same files as curl', () => {
  async function prepared(name: string, content: Buffer) {
    const r = { curl: path.join(dir, name, 'curl'), netkit: path.join(dir, name, 'netkit') };
    for (const d of Object.values(r)) {
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, 'part.bin'), content);
    }
    return r;
  }
  const resume = (url: string, extra: string[] = []) => [
    '-C',
    '-',
    '-o',
    'part.bin',
    '-w',
    '%{http_code} %{size_download}',
    ...extra,
    url,
  ];

  it('-C - resumes a partial file: 206 appended, byte-identical to curl and to the source', async () => {
    const dirs = await prepared('c-partial', s.data.subarray(0, 300));
    const [c, n] = await Promise.all([
      curl(resume(`${s.origin}/file`), { cwd: dirs.curl }),
      ours(resume(`${s.origin}/file`), { cwd: dirs.netkit }),
    ]);
    expect(n.code, n.stderr).toBe(0);
    expect(n.stdout).toBe('206 700');
    expect(n.stdout).toBe(c.stdout);
    const got = await readFile(path.join(dirs.netkit, 'part.bin'));
    expect(got.equals(await readFile(path.join(dirs.curl, 'part.bin')))).toBe(true);
    expect(got.equals(s.data)).toBe(true);
  });

  it('a complete file: 416, success, nothing written (as curl)', async () => {
    const dirs = await prepared('c-complete', s.data);
    const [c, n] = await Promise.all([
      curl(resume(`${s.origin}/file`), { cwd: dirs.curl }),
      ours(resume(`${s.origin}/file`), { cwd: dirs.netkit }),
    ]);
    expect([n.code, c.code]).toEqual([0, 0]);
    expect(n.stdout).toBe(c.stdout);
    expect(n.stdout).toMatch(/^416 /);
    expect((await readFile(path.join(dirs.netkit, 'part.bin'))).equals(s.data)).toBe(true);
  });

  it('a server that ignores Range: both refuse and leave the part as it was (curl exit 33, netkit 1)', async () => {
    const dirs = await prepared('c-norange', s.data.subarray(0, 300));
    const [c, n] = await Promise.all([
      run('curl', resume(`${s.origin}/norange`), { cwd: dirs.curl }),
      netkit(['http', 'get', ...resume(`${s.origin}/norange`)], { cwd: dirs.netkit }),
    ]);
    expect(c.code).toBe(33);
    expect(c.stderr).toMatch(/doesn't seem to support byte ranges/);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(
      /^netkit: cannot resume part\.bin at byte 300: the server doesn't seem to support byte ranges/m,
    );
    for (const d of Object.values(dirs)) expect((await readFile(path.join(d, 'part.bin'))).length).toBe(300);
  });

  it('-C N without a file: the bytes from N on, to stdout', async () => {
    const r = await both(() => ['-C', '100', `${s.origin}/file`], 'c-stdout');
    expect(r.netkit.stdoutBuf.equals(r.curl.stdoutBuf)).toBe(true);
    expect(r.netkit.stdoutBuf.equals(s.data.subarray(100))).toBe(true);
  });
});

describe('-O, --remote-name: the same file names as curl', () => {
  const paths = [
    'a/b%20c.txt',
    'x/file.txt?q=1&r=2',
    'f%2Fg',
    'x/.%2e/y.bin',
    'x/..%2f',
    'p;x=1',
    'q/n%C3%BC.bin',
    'q/nü.txt',
    'nofile?x=/y',
    'a.b#frag',
    '%0a.txt',
    'a\\b',
    '.hidden',
    "it's",
  ];
  it.each(paths)('/files/%s', async (p) => {
    const r = await both(() => ['-O', `${s.origin}/files/${p}`], `O-${encodeURIComponent(p)}`);
    expect(r.netkit.code, r.netkit.stderr).toBe(0);
    expect(r.curl.code).toBe(0);
    const [c, n] = await Promise.all([readdir(r.dirs.curl), readdir(r.dirs.netkit)]);
    expect(n).toEqual(c);
    expect(n).toHaveLength(1);
    expect((await readFile(path.join(r.dirs.netkit, n[0]!))).equals(s.data)).toBe(true);
  });

  it.each(['files/dir/', 'files/a/..'])('/%s names no file: both refuse and write nothing', async (p) => {
    const r = await both(() => ['-O', `${s.origin}/${p}`], `O-none-${encodeURIComponent(p)}`);
    expect(r.curl.code).toBe(23);
    expect(r.netkit.code).toBe(2);
    expect(await readdir(r.dirs.netkit)).toEqual([]);
    expect(await readdir(r.dirs.curl)).toEqual([]);
  });

  it('--output-dir and --create-dirs put the file where curl does, with the same modes', async () => {
    const r = await both(
      () => [
        '-O',
        '--output-dir',
        'dl/sub',
        '--create-dirs',
        '-w',
        '%{filename_effective}',
        `${s.origin}/files/f.bin`,
      ],
      'O-dir',
    );
    expect(r.netkit.stdout).toBe('dl/sub/f.bin');
    expect(r.netkit.stdout).toBe(r.curl.stdout);
    const { stat } = await import('node:fs/promises');
    for (const sub of ['dl', 'dl/sub']) {
      const [c, n] = await Promise.all([
        stat(path.join(r.dirs.curl, sub)),
        stat(path.join(r.dirs.netkit, sub)),
      ]);
      expect((n.mode & 0o777).toString(8)).toBe((c.mode & 0o777).toString(8));
    }
  });
});

describe('1xx responses and trailers, next to curl', () => {
  const noDate = (t: string) => t.replace(/^Date: .*$/gm, 'Date: -');

  it('-i shows a 103 Early Hints before each response and the trailers after the body, as curl -i', async () => {
    const r = await both(() => ['-i', '-L', `${s.origin}/hints/redirect`], 'i-interim');
    expect(r.netkit.code, r.netkit.stderr).toBe(0);
    // -i prints LF where curl prints CRLF: the one difference, on purpose
    expect(noDate(r.netkit.stdout)).toBe(noDate(r.curl.stdout.replace(/\r\n/g, '\n')));
    expect(noDate(r.netkit.stdout)).toBe(
      'HTTP/1.1 103 Early Hints\n' +
        'Link: </style.css>; rel=preload; as=style, </app.js>; rel=preload; as=script\n\n' +
        'HTTP/1.1 302 Found\nLocation: /trailers\nContent-Length: 0\nDate: -\nConnection: keep-alive\nKeep-Alive: timeout=5\n\n' +
        'HTTP/1.1 200 OK\nContent-Type: text/plain\nTrailer: X-Checksum, X-Count\nDate: -\nConnection: keep-alive\nKeep-Alive: timeout=5\nTransfer-Encoding: chunked\n\n' +
        'first\nsecond\nX-Checksum: sha1=abc\nX-Count: 2\n',
    );
  });

  it('-D writes them too, and %{size_header} counts the 103 (not the trailers), as curl does', async () => {
    for (const url of [`${s.origin}/hints`, `${s.origin}/trailers`]) {
      const r = await both(
        () => ['-D', 'h.txt', '-o', 'body', '-w', '%{size_header}', url],
        `D-interim-${url.split('/').pop()}`,
      );
      expect(r.netkit.code, r.netkit.stderr).toBe(0);
      expect(r.netkit.stdout).toBe(r.curl.stdout);
      const [c, n] = await Promise.all([
        readFile(path.join(r.dirs.curl, 'h.txt'), 'latin1'),
        readFile(path.join(r.dirs.netkit, 'h.txt'), 'latin1'),
      ]);
      expect(noDate(n)).toBe(noDate(c));
      expect(n).toMatch(url.endsWith('hints') ? /^HTTP\/1\.1 103 Early Hints\r\n/ : /\r\nX-Count: 2\r\n$/);
    }
  });

  it('-i -o FILE puts the heads, the body and the trailers in the file, as curl does', async () => {
    // and -D - prints the heads as well; without it stdout stays empty
    for (const [name, extra] of [
      ['i-o', []],
      ['i-o-D', ['-D', '-']],
    ] as const) {
      const r = await both(() => ['-i', ...extra, '-L', '-o', 'out', `${s.origin}/hints/redirect`], name);
      expect(r.netkit.code, r.netkit.stderr).toBe(0);
      expect(noDate(r.netkit.stdout)).toBe(noDate(r.curl.stdout));
      const [c, n] = await Promise.all([
        readFile(path.join(r.dirs.curl, 'out'), 'latin1'),
        readFile(path.join(r.dirs.netkit, 'out'), 'latin1'),
      ]);
      expect(noDate(n)).toBe(noDate(c));
      expect(n).toMatch(
        /^HTTP\/1\.1 103 Early Hints\r\n[\s\S]*\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfirst\nsecond\nX-Checksum: sha1=abc\r\nX-Count: 2\r\n$/,
      );
    }
  });

  it('--trace shows the 103 as it came in', async () => {
    const r = await ours(['--trace', '-o', '/dev/null', `${s.origin}/hints`]);
    expect(r.stderr).toMatch(/HTTP\/1\.1 103 Early Hints\n.*Link: <\/style\.css>; rel=preload; as=style/);
  });
});

describe('-D, -e and --retry, next to curl', () => {
  it('-D writes the headers of every hop as curl does (CRLF), equal but for the Date', async () => {
    const r = await both(() => ['-L', '-D', 'h.txt', '-o', '/dev/null', `${s.origin}/redirect/1`], 'D');
    const [c, n] = await Promise.all([
      readFile(path.join(r.dirs.curl, 'h.txt'), 'latin1'),
      readFile(path.join(r.dirs.netkit, 'h.txt'), 'latin1'),
    ]);
    const noDate = (t: string) => t.replace(/^Date: .*\r\n/gm, 'Date: -\r\n');
    expect(noDate(n)).toBe(noDate(c));
    expect(n).toMatch(/^HTTP\/1\.1 302 Found\r\n[\s\S]*\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
  });

  it('-L drops -u, Authorization and Cookie on the way to another host; --location-trusted keeps them, as curl', async () => {
    const other = await startCurlFlagsServer();
    try {
      const sent = async (tool: typeof curl, follow: string, key: string) => {
        const from = other.requests.length;
        const to = encodeURIComponent(`${other.origin}/file?${key}`);
        const r = await tool([
          follow,
          '-o',
          '/dev/null',
          '-u',
          'bob:pw',
          '-H',
          'Cookie: k=v',
          `${s.origin}/moved?to=${to}`,
        ]);
        expect(r.code, r.stderr).toBe(0);
        const [q] = other.requests.slice(from);
        return { authorization: q?.headers.authorization, cookie: q?.headers.cookie };
      };
      for (const follow of ['-L', '--location-trusted']) {
        const n = await sent(ours, follow, 'n');
        expect(n).toEqual(await sent(curl, follow, 'c'));
        expect(n).toEqual(
          follow === '-L'
            ? { authorization: undefined, cookie: undefined }
            : { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}`, cookie: 'k=v' },
        );
      }
    } finally {
      await other.close();
    }
  });

  it("-e 'URL;auto' sends the same Referer on each hop as curl", async () => {
    const referers = async (tool: typeof curl, key: string) => {
      const from = s.requests.length;
      const r = await tool([
        '-L',
        '-o',
        '/dev/null',
        '-e',
        'http://start.example/;auto',
        `${s.origin}/redirect/2?${key}`,
      ]);
      expect(r.code, r.stderr).toBe(0);
      return s.requests.slice(from).map((q) => q.headers.referer);
    };
    const c = await referers(curl, 'c');
    const n = await referers(ours, 'n');
    expect(n).toEqual(['http://start.example/', `${s.origin}/redirect/2?n`, `${s.origin}/redirect/1`]);
    expect(n.map((x) => x?.replace('?n', ''))).toEqual(c.map((x) => x?.replace('?c', '')));
  });

  it('--retry: a POST that gets a 503 is retried by both, one request more', async () => {
    const args = (key: string) => [
      '--retry',
      '2',
      '--retry-delay',
      '1',
      '-d',
      'x=1',
      `${s.origin}/fail/post-${key}?times=1`,
    ];
    const [c, n] = await Promise.all([curl(args('curl')), netkit(['http', 'post', '-s', ...args('netkit')])]);
    expect(n.code, n.stderr).toBe(0);
    expect(n.stdout).toBe('ok after 1\n');
    // curl prints the 503's body too, before the next attempt's; netkit only the last response's
    expect(c.stdout).toBe('failure 1\nok after 1\n');
    expect(s.count('/fail/post-netkit')).toBe(2);
    expect(s.count('/fail/post-curl')).toBe(2);
    expect(s.requests.filter((q) => q.url.startsWith('/fail/post-netkit')).map((q) => q.method)).toEqual([
      'POST',
      'POST',
    ]);
  });

  it('--retry: a 404 is not retried by either; with -f and --retry-all-errors by both', async () => {
    const plain = (k: string) => ['--retry', '3', `${s.origin}/fail/nf-${k}?status=404&times=1`];
    const all = (k: string) => [
      '-f',
      '--retry',
      '1',
      '--retry-delay',
      '1',
      '--retry-all-errors',
      `${s.origin}/fail/all-${k}?status=404&times=5`,
    ];
    const [c1, n1, c2, n2] = await Promise.all([
      curl(plain('c')),
      ours(plain('n')),
      curl(all('c')),
      ours(all('n')),
    ]);
    expect([c1.code, n1.code]).toEqual([0, 0]);
    expect([s.count('/fail/nf-c'), s.count('/fail/nf-n')]).toEqual([1, 1]);
    expect(c2.code).toBe(22);
    expect(n2.code).toBe(1);
    expect([s.count('/fail/all-c'), s.count('/fail/all-n')]).toEqual([2, 2]);
  });
});
