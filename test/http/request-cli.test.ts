/** `netkit http METHOD URL` end to end (built CLI) against the local test server. */
import { watch } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { CLI, have, netkit, run, tempDir } from '../helpers/net.js';
import { startTestServer, type TestServer } from './http-test-server.js';

let s: TestServer;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  s = await startTestServer();
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  await s.close();
  await cleanup();
});

const sentBy = (stdout: string) =>
  JSON.parse(stdout) as { method: string; url: string; headers: Record<string, string>; body: string };

describe('netkit http METHOD URL', () => {
  it('lowercase and uppercase method commands coexist with `http serve`; HEAD and -i print headers', async () => {
    const [help, sub, get, post, del, head] = await Promise.all([
      netkit(['http', '--help']),
      netkit(['http', 'post', '--help']),
      netkit(['http', 'get', `${s.origin}/echo`, '-i', '-H', 'X-Hello: world']),
      netkit(['http', 'POST', `${s.origin}/echo`, '-d', 'a=1', '-d', 'b=2']),
      netkit(['http', 'DELETE', `${s.origin}/echo/1`]),
      netkit(['http', 'head', `${s.origin}/echo`]),
    ]);
    expect(help.stdout).toMatch(/serve \[options\] <dir>/);
    for (const m of ['get|GET', 'head|HEAD', 'post|POST', 'put|PUT', 'patch|PATCH', 'delete|DELETE'])
      expect(help.stdout).toContain(m);
    expect(sub.stdout).toContain('Examples:');
    expect(get.code, get.stderr).toBe(0);
    const [block, body] = get.stdout.split('\n\n');
    expect(block).toMatch(/^HTTP\/1\.1 200 OK\nContent-Type: application\/json\nX-Echo: yes\n/);
    expect(sentBy(body!)).toMatchObject({ method: 'GET', headers: { 'x-hello': 'world' } });
    expect(sentBy(post.stdout)).toMatchObject({ method: 'POST', body: 'a=1&b=2' });
    expect(sentBy(post.stdout).headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sentBy(del.stdout)).toMatchObject({ method: 'DELETE', url: '/echo/1' });
    expect(head.code).toBe(0);
    expect(head.stdout).toMatch(
      /^HTTP\/1\.1 200 OK\nContent-Type: application\/json\nX-Echo: yes\n[\s\S]*\n\n$/,
    );
  });

  it('--form, --json, --data-file and -H', async () => {
    const file = path.join(dir, 'data.csv');
    await writeFile(file, 'a,b\n1,2\n');
    const [form, json, data] = await Promise.all([
      netkit(['http', 'post', `${s.origin}/echo`, '--form', 'user=bob', '--form', 'note=a b&c=d']),
      netkit(['http', 'PUT', `${s.origin}/echo`, '--json', '{"done": true}']),
      netkit(['http', 'patch', `${s.origin}/echo`, '--data-file', file, '-H', 'Content-Type: text/csv']),
    ]);
    expect(sentBy(form.stdout).body).toBe('user=bob&note=a+b%26c%3Dd');
    expect(sentBy(json.stdout)).toMatchObject({ method: 'PUT', body: '{"done": true}' });
    expect(sentBy(json.stdout).headers['content-type']).toBe('application/json');
    expect(sentBy(data.stdout)).toMatchObject({ method: 'PATCH', body: 'a,b\n1,2\n' });
    expect(sentBy(data.stdout).headers['content-type']).toBe('text/csv');
  });

  it('-L follows redirects; a loop ends with a clear error and exit 1', async () => {
    const [plain, follow, loop] = await Promise.all([
      netkit(['http', 'get', `${s.origin}/redirect/302`]),
      netkit(['http', 'post', `${s.origin}/redirect/303`, '-L', '-d', 'x=1', '--meta']),
      netkit(['http', 'get', `${s.origin}/loop`, '-L', '--max-redirects', '5']),
    ]);
    expect([plain.code, plain.stdout]).toEqual([0, 'moved']);
    expect(sentBy(follow.stdout)).toMatchObject({ method: 'GET', body: '' });
    const meta = JSON.parse(follow.stderr.trim());
    expect(meta).toMatchObject({ method: 'POST', status: 200, url: `${s.origin}/echo` });
    expect(meta.redirects).toHaveLength(1);
    expect(loop.code).toBe(1);
    expect(loop.stderr).toMatch(/^netkit: too many redirects \(more than 5\)[^\n]*\n$/);
  });

  it('-u basic auth; --fail exits 1 without printing the body; other statuses exit 0', async () => {
    const [ok, denied, failed] = await Promise.all([
      netkit(['http', 'get', `${s.origin}/auth`, '-u', 'bob:s3cret:x']),
      netkit(['http', 'get', `${s.origin}/auth`, '-u', 'bob:wrong']),
      netkit(['http', 'get', `${s.origin}/auth`, '-u', 'bob:wrong', '--fail']),
    ]);
    expect([ok.code, ok.stdout]).toEqual([0, 'hello bob\n']);
    expect([denied.code, denied.stdout]).toEqual([0, 'who are you?\n']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(/^netkit: HTTP 401 Unauthorized from http:\/\/127\.0\.0\.1:\d+\/auth\n$/);
  });

  it('-o writes the body atomically; a failed transfer leaves the old file and no temp file', async () => {
    const out = path.join(dir, 'out', 'file.bin');
    await mkdir(path.dirname(out));
    const good = await netkit(['http', 'get', `${s.origin}/bytes?n=300000`, '-o', out]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toBe('');
    const data = await readFile(out);
    expect(data.length).toBe(300000);
    expect(data[299999]).toBe((299999 * 7) & 0xff);
    const cut = await netkit(['http', 'get', `${s.origin}/cut`, '-o', out]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(
      /^netkit: connection to 127\.0\.0\.1:\d+ closed after 10 of 1000 body bytes \(Content-Length\)\n$/,
    );
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(await readdir(path.dirname(out))).toEqual(['file.bin']);
  });

  it('-o draws a progress bar on a terminal, and no bar when stderr is not one', async () => {
    const out = path.join(dir, 'out', 'progress.bin');
    await mkdir(path.dirname(out), { recursive: true });
    expect(await have('script')).toBe(true);
    // util-linux `script` runs the command on a pseudo-terminal and copies what it draws
    const cmd = `"${process.execPath}" "${CLI}" http get '${s.origin}/bytes?n=300000' -o '${out}'`;
    const tty = await run('script', ['-qec', cmd, '/dev/null']);
    expect(tty.code, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/progress\.bin \[#+\] 100% 293\.0 KiB\/293\.0 KiB/);
    expect((await readFile(out)).length).toBe(300000);
    // not a terminal: no bar; plain progress lines only once two seconds have passed
    const plain = await netkit(['http', 'get', `${s.origin}/bytes?n=300000`, '-o', out]);
    expect(plain.code).toBe(0);
    for (const line of plain.stderr.split('\n').filter(Boolean))
      expect(line).toMatch(/^progress\.bin \d+% [\d.]+ \w+\/293\.0 KiB [\d.]+ \w+\/s ETA \d+:\d\d$/);
  });

  it('-o on a terminal: a transfer cut short ends the bar line before the error', async () => {
    const outDir = path.join(dir, 'out-cut');
    await mkdir(outDir);
    // 10 of 1000 bytes, then the connection drops once they are in the temp file (the bar drawn)
    const cut = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': '1000' });
      const watcher = watch(outDir, (event, name) => {
        if (event === 'change' && name?.endsWith('.tmp')) {
          watcher.close();
          res.socket?.destroy();
        }
      });
      res.write('0123456789');
    });
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(cut.address() as AddressInfo).port}/cut.bin`;
      const cmd = `"${process.execPath}" "${CLI}" http get '${url}' -o '${path.join(outDir, 'cut.bin')}'`;
      const tty = await run('script', ['-qec', cmd, '/dev/null']);
      expect(tty.code, tty.stdout).toBe(1);
      expect(tty.stdout).toMatch(
        /cut\.bin \[\.+\] +1% [^\n]*\r?\nnetkit: connection to 127\.0\.0\.1:\d+ closed after 10 of/,
      );
    } finally {
      await new Promise((resolve) => cut.close(resolve));
    }
  });

  it('--cookie-jar keeps a login between two invocations (the HTTPCookieProcessor example)', async () => {
    const jar = path.join(dir, 'session.txt');
    const login = await netkit([
      'http',
      'post',
      `${s.origin}/login`,
      '--form',
      'user=bob',
      '--form',
      'password=secret',
      '--cookie-jar',
      jar,
      '-L',
    ]);
    expect([login.code, login.stdout], login.stderr).toEqual([0, 'welcome bob\n']);
    expect((await stat(jar)).mode & 0o777).toBe(0o600);
    expect(await readFile(jar, 'utf8')).toMatch(
      /\n#HttpOnly_127\.0\.0\.1\tFALSE\t\/\tFALSE\t0\tsession\t[0-9a-f]{16}\n/,
    );
    const home = await netkit(['http', 'get', `${s.origin}/home`, '--cookie-jar', jar]);
    expect(home.stdout).toBe('welcome bob\n');
  });

  it('a cookie jar with garbage lines: warnings, and the saved jar keeps every good cookie', async () => {
    const jar = path.join(dir, 'messy.txt');
    await writeFile(
      jar,
      [
        '# Netscape HTTP Cookie File',
        '127.0.0.1\tFALSE\t/\tFALSE\t0\tgood1\tA',
        'complete nonsense',
        '127.0.0.1\tFALSE\t/\tFALSE\tnever\tbad\tB',
        '#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tgood2\tC',
      ].join('\n'),
    );
    const r = await netkit(['http', 'get', `${s.origin}/set-cookies`, '-c', jar]);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `netkit: warning: ${jar}: line 3: expected 7 tab-separated fields, got 1 (line skipped)`,
      `netkit: warning: ${jar}: line 4: expiry "never" is not a number (line skipped)`,
    ]);
    const saved = await readFile(jar, 'utf8');
    expect(saved).toContain('127.0.0.1\tFALSE\t/\tFALSE\t0\tgood1\tA\n');
    expect(saved).toContain('#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tgood2\tC\n');
    expect(saved).toContain('\tsid\tabc123\n');
    expect(saved).not.toContain('nonsense');
    const back = await netkit(['http', 'get', `${s.origin}/cookies`, '-c', jar, '-b', 'extra=1']);
    expect(JSON.parse(back.stdout)).toEqual(['extra=1', 'good1=A', 'good2=C', 'lang=en', 'sid=abc123']);
  });

  it('--trace shows the exchange with secrets redacted', async () => {
    const r = await netkit([
      'http',
      'get',
      `${s.origin}/auth`,
      '-u',
      'bob:s3cret:x',
      '-b',
      'token=t0p',
      '--trace',
    ]);
    expect(r.stderr).toMatch(/\[http#\d+\] C: GET \/auth HTTP\/1\.1\n/);
    expect(r.stderr).toMatch(/C: Authorization: Basic \*\*\*\*\n/);
    expect(r.stderr).toMatch(/C: Cookie: token=\*\*\*\*\n/);
    expect(r.stderr).toMatch(/S: HTTP\/1\.1 200 OK\n/);
    expect(r.stderr).not.toContain('t0p');
    expect(r.stderr).not.toContain(Buffer.from('bob:s3cret:x').toString('base64'));
  });

  it('bad input: one-line errors with exit 2 for usage, 1 for failures', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['http', 'get', 'http://[::1'], 2, /^netkit: invalid URL: "http:\/\/\[::1"\n$/],
      [
        ['http', 'get', 'http://[fe80::1%25eth0]:8080/'],
        2,
        /^netkit: invalid URL: "http:\/\/\[fe80::1%25eth0\]:8080\/": an IPv6 zone \(%25NAME\) cannot be part of an http URL; name the host and map it: --resolve NAME:PORT:fe80::1%eth0\n$/,
      ],
      [['http', 'get', 'ftp://example.org/'], 2, /^netkit: unsupported URL scheme "ftp"/],
      [['http', 'get', s.origin, '-H', 'NoColon'], 2, /^netkit: bad header "NoColon"/],
      [['http', 'post', s.origin, '-d', 'a', '--json', '{}'], 2, /^netkit: give only one of/],
      [['http', 'get', s.origin, '--resolve', 'nonsense'], 2, /^netkit: bad --resolve/],
      [['http', 'post', s.origin, '--data-file', path.join(dir, 'nope')], 1, /^netkit: cannot read/],
      [['http', 'get', s.origin, '-H', 'X-U: ü€'], 2, /^netkit: header X-U: non-ASCII text cannot be sent/],
      [['http', 'get', s.origin, '-H', 'Transfer-Encoding: chunked'], 2, /^netkit: header Transfer-Encoding/],
      [['http', 'post', s.origin, '-d', 'x', '-H', 'Expect: 100-continue'], 2, /^netkit: header Expect/],
      [
        ['http', 'post', s.origin, '-d', 'abc', '-H', 'Content-Length: 10'],
        2,
        /^netkit: header Content-Length: "10" does not match the body \(3 bytes\)/,
      ],
      [['http', 'get', s.origin, '-A', 'agent ü'], 2, /^netkit: -A: non-ASCII/],
      [
        ['http', 'get', s.origin, '-H', 'Authorization Bearer sk_SECRET'],
        2,
        /^netkit: bad header "Authorization …"/,
      ],
      [['http', 'get', s.origin, '-X', 'CONNECT'], 2, /^netkit: CONNECT is not supported/],
      [
        ['http', 'get', `${s.origin}/stall`, '--timeout', '300ms'],
        1,
        /^netkit: timed out waiting for the response/,
      ],
    ];
    const before = s.requests.length;
    const results = await Promise.all(cases.map(([args]) => netkit(args)));
    results.forEach((r, i) => {
      const [args, exit, message] = cases[i]!;
      expect([r.code, r.stderr], args.join(' ')).toEqual([exit, expect.stringMatching(message)]);
      expect(r.stderr.trim().split('\n').length, args.join(' ')).toBeLessThanOrEqual(2);
      expect(r.stderr).not.toContain('SECRET');
    });
    // only the /stall request reached the server
    expect(s.requests.length - before).toBe(1);
  });
});

describe('as curl does it', () => {
  it('-b FILE (no "=") reads a cookie file; a missing one sends nothing; -c saves them too', async () => {
    const file = path.join(dir, 'b-cookies.txt');
    await writeFile(
      file,
      ['127.0.0.1\tFALSE\t/\tFALSE\t0\tsess\tabc', '127.0.0.1\tFALSE\t/\tFALSE\t0\thon\t4', ''].join('\n'),
    );
    const saved = path.join(dir, 'b-saved.txt');
    const [fromFile, missing, both, stdin] = await Promise.all([
      netkit(['http', 'get', `${s.origin}/cookies`, '-b', file, '-b', 'extra=1']),
      netkit(['http', 'get', `${s.origin}/cookies`, '-b', path.join(dir, 'no-such-file.txt')]),
      netkit(['http', 'get', `${s.origin}/set-cookies`, '-b', file, '-c', saved]),
      netkit(['http', 'get', `${s.origin}/cookies`, '-b', '-'], { input: await readFile(file) }),
    ]);
    expect(JSON.parse(stdin.stdout)).toEqual(['hon=4', 'sess=abc']);
    expect(JSON.parse(fromFile.stdout)).toEqual(['extra=1', 'hon=4', 'sess=abc']);
    expect([missing.code, missing.stdout, missing.stderr]).toEqual([0, '[]', '']);
    expect(both.code, both.stderr).toBe(0);
    const jar = await readFile(saved, 'utf8');
    expect(jar).toContain('\tsess\tabc\n');
    expect(jar).toContain('\tsid\tabc123\n');
    expect(await readFile(file, 'utf8')).not.toContain('sid'); // -b never writes
  });

  it('-d @FILE drops CR/LF, --data-binary @FILE is byte-exact, @- and --data-file - read stdin', async () => {
    const file = path.join(dir, 'body.txt');
    await writeFile(file, 'a=1\r\nb=2\n');
    const [d, binary, dStdin, binaryStdin, dataFile] = await Promise.all([
      netkit(['http', 'post', `${s.origin}/echo`, '-d', `@${file}`]),
      netkit(['http', 'post', `${s.origin}/echo`, '--data-binary', `@${file}`]),
      netkit(['http', 'post', `${s.origin}/echo`, '-d', '@-'], { input: 'x=1\ny=2\n' }),
      netkit(['http', 'put', `${s.origin}/echo`, '--data-binary', '@-'], { input: 'x=1\ny=2\n' }),
      netkit(['http', 'post', `${s.origin}/echo`, '--data-file', '-', '-H', 'Content-Type: text/plain'], {
        input: 'piped\n',
      }),
    ]);
    expect(sentBy(d.stdout).body).toBe('a=1b=2');
    expect(sentBy(d.stdout).headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sentBy(binary.stdout).body).toBe('a=1\r\nb=2\n');
    expect(sentBy(dStdin.stdout).body).toBe('x=1y=2');
    expect(sentBy(binaryStdin.stdout)).toMatchObject({ method: 'PUT', body: 'x=1\ny=2\n' });
    expect(sentBy(dataFile.stdout).body).toBe('piped\n');
    const missing = await netkit(['http', 'post', `${s.origin}/echo`, '-d', `@${path.join(dir, 'nope')}`]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/^netkit: cannot read .*nope/)]);
  });

  it('--data-raw keeps "@"; the data options join with "&" in command-line order; -G puts them in the query', async () => {
    const [raw, mixed, query] = await Promise.all([
      netkit(['http', 'post', `${s.origin}/echo`, '--data-raw', '@not-a-file']),
      netkit([
        'http',
        'post',
        `${s.origin}/echo`,
        '--data-raw',
        'a',
        '-d',
        'b',
        '--data-binary',
        'c',
        '-d',
        'd',
      ]),
      netkit(['http', 'get', `${s.origin}/echo?x=1#frag`, '-G', '-d', 'q=a b', '--data-raw', 'n=\u00fc']),
    ]);
    expect(sentBy(raw.stdout).body).toBe('@not-a-file');
    expect(sentBy(mixed.stdout).body).toBe('a&b&c&d');
    expect(sentBy(query.stdout)).toMatchObject({
      method: 'GET',
      url: '/echo?x=1&q=a%20b&n=%C3%BC',
      body: '',
    });
    expect(sentBy(query.stdout).headers['content-type']).toBeUndefined();
  });

  it('-A "" sends no User-Agent, a URL without a scheme is http://, -X another method, --path-as-is', async () => {
    const [noAgent, noScheme, purge, asIs] = await Promise.all([
      netkit(['http', 'get', `${s.origin}/echo`, '-A', '']),
      netkit(['http', 'get', `127.0.0.1:${s.port}/echo`]),
      netkit(['http', 'get', `${s.origin}/echo`, '-X', 'PURGE', '--meta']),
      netkit(['http', 'get', `${s.origin}/x/../%2e%2e/echo`, '--path-as-is']),
    ]);
    expect(Object.keys(sentBy(noAgent.stdout).headers)).not.toContain('user-agent');
    expect(sentBy(noScheme.stdout).url).toBe('/echo');
    expect(sentBy(purge.stdout).method).toBe('PURGE');
    expect(JSON.parse(purge.stderr).method).toBe('PURGE');
    expect(asIs.code).toBe(0);
    expect(s.requests.some((r) => r.url === '/x/../%2e%2e/echo')).toBe(true);
  });

  it('--trace never shows a bare Authorization token or a cookie without "="', async () => {
    const r = await netkit([
      'http',
      'get',
      `${s.origin}/echo`,
      '-H',
      'Authorization: sk_live_SECRETKEY123',
      '-b',
      'n=SECRET1',
      '-H',
      'Cookie: SECRETONLY',
      '--trace',
    ]);
    expect(r.stderr).toMatch(/C: Authorization: \*\*\*\*\n/);
    expect(r.stderr).toMatch(/C: Cookie: \*\*\*\*; n=\*\*\*\*\n/);
    expect(r.stderr).not.toContain('SECRET');
  });

  it('--meta hides Set-Cookie values (-i prints the response as it came)', async () => {
    const r = await netkit(['http', 'get', `${s.origin}/set-cookies`, '--meta', '-i']);
    const meta = JSON.parse(r.stderr);
    expect(meta.headers['set-cookie'][0]).toBe('sid=****; Path=/; HttpOnly');
    expect(r.stderr).not.toContain('abc123');
    expect(r.stdout).toContain('Set-Cookie: sid=abc123; Path=/; HttpOnly\n');
  });

  it('-m limits the whole transfer, whatever --timeout allows', async () => {
    const r = await netkit(['http', 'get', `${s.origin}/stall`, '--timeout', '60s', '-m', '300ms']);
    expect([r.code, r.stderr]).toEqual([1, 'netkit: operation timed out after 300ms (--max-time)\n']);
  });

  it('--cacert trusts the certificates of a file instead of the system roots', async () => {
    const { cert, key } = await generateDevCertificate();
    const server = https.createServer({ cert, key }, (_req, res) => res.end('secure hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const ca = path.join(dir, 'ca.pem');
    await writeFile(ca, cert);
    try {
      const [untrusted, trusted, missing] = await Promise.all([
        netkit(['http', 'get', url]),
        netkit(['http', 'get', url, '--cacert', ca]),
        netkit(['http', 'get', url, '--cacert', path.join(dir, 'none.pem')]),
      ]);
      expect(untrusted.code).toBe(1);
      expect([trusted.code, trusted.stdout], trusted.stderr).toEqual([0, 'secure hello']);
      expect([missing.code, missing.stderr]).toEqual([
        1,
        expect.stringMatching(/^netkit: cannot read --cacert/),
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("binary output is not written to a terminal (curl's rule) unless -o -", async () => {
    expect(await have('script')).toBe(true);
    const cmd = (extra: string) =>
      `"${process.execPath}" "${CLI}" http get '${s.origin}/bytes?n=64' ${extra}; echo "exit=$?"`;
    const [refused, forced] = await Promise.all([
      run('script', ['-qec', cmd(''), '/dev/null']),
      run('script', ['-qec', cmd('-o -'), '/dev/null']),
    ]);
    expect(refused.stdout).toMatch(
      /netkit: binary output can mess up your terminal: use -o FILE[^\n]*\n?.*exit=1/s,
    );
    expect(forced.stdout).toMatch(/exit=0/);
    expect(forced.stdoutBuf.includes(Buffer.from([0, 7, 14, 21]))).toBe(true);
  });
});
