/** `netkit http METHOD URL` end to end (built CLI) against the local test server. */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(cut.stderr).toMatch(/^netkit: connection to 127\.0\.0\.1:\d+ closed unexpectedly\n$/);
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(await readdir(path.dirname(out))).toEqual(['file.bin']);
  });

  it('-o draws a progress bar on a terminal, and nothing when stderr is not one', async () => {
    const out = path.join(dir, 'out', 'progress.bin');
    await mkdir(path.dirname(out), { recursive: true });
    expect(await have('script')).toBe(true);
    // util-linux `script` runs the command on a pseudo-terminal and copies what it draws
    const cmd = `"${process.execPath}" "${CLI}" http get '${s.origin}/bytes?n=300000' -o '${out}'`;
    const tty = await run('script', ['-qec', cmd, '/dev/null']);
    expect(tty.code, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/progress\.bin \[#+\] 100% 293\.0 KiB\/293\.0 KiB/);
    expect((await readFile(out)).length).toBe(300000);
    const plain = await netkit(['http', 'get', `${s.origin}/bytes?n=300000`, '-o', out]);
    expect([plain.code, plain.stderr]).toEqual([0, '']);
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
      [['http', 'get', 'ftp://example.org/'], 2, /^netkit: unsupported URL scheme "ftp"/],
      [['http', 'get', s.origin, '-H', 'NoColon'], 2, /^netkit: bad header "NoColon"/],
      [['http', 'post', s.origin, '-d', 'a', '--json', '{}'], 2, /^netkit: give only one of/],
      [['http', 'get', s.origin, '--resolve', 'nonsense'], 2, /^netkit: bad --resolve/],
      [['http', 'post', s.origin, '--data-file', path.join(dir, 'nope')], 1, /^netkit: cannot read/],
      [
        ['http', 'get', `${s.origin}/stall`, '--timeout', '300ms'],
        1,
        /^netkit: timed out waiting for the response/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => netkit(args)));
    results.forEach((r, i) => {
      const [args, exit, message] = cases[i]!;
      expect([r.code, r.stderr], args.join(' ')).toEqual([exit, expect.stringMatching(message)]);
      expect(r.stderr.trim().split('\n').length, args.join(' ')).toBeLessThanOrEqual(2);
    });
  });
});
