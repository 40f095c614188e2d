/**
 * Cookie files across implementations, through a real server (test/http/http-test-server.ts) on
 * the name www.netkit.test (mapped to 127.0.0.1 with curl's and our --resolve):
 * - written by `curl -c`, read by us: we send back what curl sends back;
 * - written by us, read by `curl -b` and by Python's http.cookiejar.MozillaCookieJar (which sends
 *   them to the server through http.client): everyone sends back the same cookies;
 * - written by Python's MozillaCookieJar.save, read by us.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/core/address.js';
import { parseCookieFile } from '../../src/http/cookie-file.js';
import { netkit, run, tempDir } from '../helpers/net.js';
import { EXPECTED_BACK, startTestServer, type TestServer } from './http-test-server.js';

const HOST = 'www.netkit.test';
const PYTHON = '/usr/bin/python3';

let server: TestServer;
let dir: string;
let cleanup: () => Promise<void>;
let url: (p: string) => string;
let resolve: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ dir, cleanup } = await tempDir());
  url = (p) => `http://${HOST}:${server.port}${p}`;
  resolve = `${HOST}:${server.port}:127.0.0.1`;
});
afterAll(async () => {
  await server.close();
  await cleanup();
});

function curl(args: string[]) {
  return run('curl', ['-sS', '--resolve', resolve, ...args]);
}

/** Python sends the cookies of a MozillaCookieJar file to the server and prints what it got back. */
const PY_SEND = `
import http.client, http.cookiejar, json, sys, urllib.request
file, host, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cj = http.cookiejar.MozillaCookieJar(file)
cj.load(ignore_discard=True, ignore_expires=True)
for c in cj:
    # curl's format marks session cookies with expiry 0; MozillaCookieJar would treat 0 as expired
    if c.expires == 0:
        c.expires = None
        c.discard = True
req = urllib.request.Request('http://%s:%d%s' % (host, port, path))
cj.add_cookie_header(req)
conn = http.client.HTTPConnection('127.0.0.1', port)
headers = {'Host': '%s:%d' % (host, port)}
if req.has_header('Cookie'):
    headers['Cookie'] = req.get_header('Cookie')
conn.request('GET', path, headers=headers)
print(conn.getresponse().read().decode())
`;

/** Python fetches /set-cookies, keeps the cookies in a MozillaCookieJar, saves it. */
const PY_SAVE = `
import http.client, http.cookiejar, sys, urllib.request
file, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
cj = http.cookiejar.MozillaCookieJar(file)
req = urllib.request.Request('http://%s:%d/set-cookies' % (host, port))
conn = http.client.HTTPConnection('127.0.0.1', port)
conn.request('GET', '/set-cookies', headers={'Host': '%s:%d' % (host, port)})
resp = conn.getresponse()
resp.read()
cj.extract_cookies(resp, req)
cj.save(ignore_discard=True)
`;

describe('cookie files: curl, Python and netkit agree', () => {
  it('curl -c writes a jar; we read it and send back the same cookies curl does', async () => {
    const jar = path.join(dir, 'curl.txt');
    const set = await curl(['-c', jar, '-o', '/dev/null', url('/set-cookies')]);
    expect(set.code, set.stderr).toBe(0);
    const text = await readFile(jar, 'utf8');
    const { cookies, warnings } = parseCookieFile(text);
    expect(warnings).toEqual([]);
    const byName = Object.fromEntries(cookies.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['deep', 'lang', 'sid', 'theme']);
    expect(byName.sid).toMatchObject({ httpOnly: true, expires: 0, includeSubdomains: false, domain: HOST });
    expect(byName.theme).toMatchObject({ includeSubdomains: true, domain: 'netkit.test' });
    expect(byName.theme!.expires).toBeGreaterThan(Date.now() / 1000);
    expect(byName.lang!.expires).toBeGreaterThan(Date.now() / 1000);
    expect(byName.deep!.path).toBe('/cookies/deep');

    const viaCurl = await curl(['-b', jar, url('/cookies')]);
    expect(JSON.parse(viaCurl.stdout)).toEqual(EXPECTED_BACK);
    const ours = await netkit(['http', 'get', url('/cookies'), '--resolve', resolve, '--cookie-jar', jar]);
    expect(ours.code, ours.stderr).toBe(0);
    expect(JSON.parse(ours.stdout)).toEqual(EXPECTED_BACK);
    const deep = await netkit(['http', 'get', url('/cookies/deep'), '--resolve', resolve, '-c', jar]);
    expect(JSON.parse(deep.stdout)).toEqual([...EXPECTED_BACK, 'deep=1'].sort());
  });

  it('we write a jar; curl -b and Python MozillaCookieJar send back the same cookies as we do', async () => {
    const jar = path.join(dir, 'ours.txt');
    const set = await netkit(['http', 'get', url('/set-cookies'), '--resolve', resolve, '--cookie-jar', jar]);
    expect(set.code, set.stderr).toBe(0);
    const text = await readFile(jar, 'utf8');
    expect(text.startsWith('# Netscape HTTP Cookie File\n')).toBe(true);
    expect(text).toContain(`#HttpOnly_${HOST}\tFALSE\t/\tFALSE\t0\tsid\tabc123\n`);
    expect(text).toMatch(/\n\.netkit\.test\tTRUE\t\/\tFALSE\t\d{10}\ttheme\tdark\n/);

    const ours = await netkit(['http', 'get', url('/cookies'), '--resolve', resolve, '-c', jar]);
    expect(JSON.parse(ours.stdout)).toEqual(EXPECTED_BACK);
    const viaCurl = await curl(['-b', jar, url('/cookies')]);
    expect(viaCurl.code, viaCurl.stderr).toBe(0);
    expect(JSON.parse(viaCurl.stdout)).toEqual(EXPECTED_BACK);
    const py = await run(PYTHON, ['-c', PY_SEND, jar, HOST, String(server.port), '/cookies']);
    expect(py.stderr).toBe('');
    expect(JSON.parse(py.stdout)).toEqual(EXPECTED_BACK);
    const pyDeep = await run(PYTHON, ['-c', PY_SEND, jar, HOST, String(server.port), '/cookies/deep']);
    expect(JSON.parse(pyDeep.stdout)).toEqual([...EXPECTED_BACK, 'deep=1'].sort());
  });

  it('Python MozillaCookieJar.save writes a jar (empty expiry for session cookies); we read it', async () => {
    const jar = path.join(dir, 'python.txt');
    const py = await run(PYTHON, ['-c', PY_SAVE, jar, HOST, String(server.port)]);
    expect(py.stderr).toBe('');
    expect(py.code).toBe(0);
    const { cookies, warnings } = parseCookieFile(await readFile(jar, 'utf8'));
    expect(warnings).toEqual([]);
    expect(cookies.find((c) => c.name === 'sid')).toMatchObject({ expires: 0, name: 'sid', value: 'abc123' });
    const ours = await netkit(['http', 'get', url('/cookies'), '--resolve', resolve, '-c', jar]);
    expect(ours.code, ours.stderr).toBe(0);
    expect(JSON.parse(ours.stdout)).toEqual(EXPECTED_BACK);
    // …and after we saved it again, Python still reads it
    const back = await run(PYTHON, ['-c', PY_SEND, jar, HOST, String(server.port), '/cookies']);
    expect(back.stderr).toBe('');
    expect(JSON.parse(back.stdout)).toEqual(EXPECTED_BACK);
  });
});

/** A loopback server for the tests of one describe block; `at.base` is its URL once started. */
function serverFor(handler: http.RequestListener, host = '127.0.0.1'): { base: string } {
  const server = http.createServer(handler);
  const at = { base: '' };
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, host, r));
    at.base = `http://${formatHostPort(host, (server.address() as AddressInfo).port)}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return at;
}

/** A server whose `/set` answers `setCookies` and whose `/back` echoes the Cookie header. */
function cookieEchoServer(setCookies: string[], host?: string): { base: string } {
  return serverFor((req, res) => {
    if (req.url === '/set') res.setHeader('Set-Cookie', setCookies);
    res.end(req.headers.cookie ?? '');
  }, host);
}

/** The cookie lines of a jar file (no header, comments or blank lines), sorted. */
async function cookieLines(file: string): Promise<string[]> {
  return (await readFile(file, 'latin1'))
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .sort();
}

/** netkit -c and curl -c each save the cookies `${base}/set` gives: the two files. */
async function bothSaveJars(base: string, name: string): Promise<{ ours: string; theirs: string }> {
  const ours = path.join(dir, `${name}-ours.txt`);
  const theirs = path.join(dir, `${name}-curl.txt`);
  const [a, b] = await Promise.all([
    netkit(['http', 'get', `${base}/set`, '-c', ours]),
    run('curl', ['-sS', '-c', theirs, '-o', '/dev/null', `${base}/set`]),
  ]);
  expect([a.code, b.code]).toEqual([0, 0]);
  return { ours, theirs };
}

describe('non-ASCII cookies: bytes, as curl keeps them', () => {
  // /set sends `n=ü` as UTF-8 bytes; /back answers the bytes of the Cookie header it got, in hex
  const at = serverFor((req, res) => {
    if (req.url === '/set') res.setHeader('Set-Cookie', `n=${Buffer.from('ü').toString('latin1')}; Path=/`);
    res.end(Buffer.from(req.headers.cookie ?? '', 'latin1').toString('hex'));
  });
  const sent = Buffer.from('n=ü').toString('hex');
  const cookieLine = async (file: string) =>
    (await readFile(file))
      .toString('latin1')
      .split('\n')
      .filter((l) => l.includes('\tn\t'));

  it('a jar we write is one curl writes, byte for byte, and each tool sends the other one the same bytes', async () => {
    const { ours, theirs } = await bothSaveJars(at.base, 'bytes');
    expect(await cookieLine(ours)).toEqual(await cookieLine(theirs));
    const back = await Promise.all([
      run('curl', ['-sS', '-b', ours, `${at.base}/back`]),
      netkit(['http', 'get', `${at.base}/back`, '-b', theirs]),
      netkit(['http', 'get', `${at.base}/back`, '-c', theirs]),
    ]);
    for (const r of back) expect(r.stdout).toBe(sent);
  });
});

describe('cookies of an IP address: host-only, as curl saves them', () => {
  // three cookies, two of them with Domain= the address itself
  const at = cookieEchoServer([
    'dom=1; Domain=127.0.0.1; Path=/',
    'dot=2; Domain=.127.0.0.1; Path=/',
    'plain=3; Path=/',
  ]);

  it('Domain=127.0.0.1 is saved as "127.0.0.1 FALSE", the lines curl -c writes, and sent back', async () => {
    const { ours, theirs } = await bothSaveJars(at.base, 'ip');
    expect(await cookieLines(ours)).toEqual([
      '127.0.0.1\tFALSE\t/\tFALSE\t0\tdom\t1',
      '127.0.0.1\tFALSE\t/\tFALSE\t0\tdot\t2',
      '127.0.0.1\tFALSE\t/\tFALSE\t0\tplain\t3',
    ]);
    expect(await cookieLines(ours)).toEqual(await cookieLines(theirs));
    const back = await Promise.all([
      run('curl', ['-sS', '-b', ours, `${at.base}/back`]),
      netkit(['http', 'get', `${at.base}/back`, '-b', ours]),
    ]);
    for (const r of back) expect(r.stdout.split('; ').sort()).toEqual(['dom=1', 'dot=2', 'plain=3']);
  });
});

describe('cookies of an IPv6 address: Domain only as the address itself, as curl keeps them', () => {
  // every way of writing ::1 as a Domain
  const at = cookieEchoServer(
    [
      'dom=1; Domain=::1; Path=/',
      'dot=2; Domain=.::1; Path=/',
      'plain=3; Path=/',
      'bracketed=4; Domain=[::1]; Path=/',
      'long=5; Domain=0:0::1; Path=/',
    ],
    '::1',
  );

  it('keeps what curl keeps (Domain=::1), says why it drops Domain=[::1], and what it keeps is sent back', async () => {
    const { ours, theirs } = await bothSaveJars(at.base, 'ipv6');
    expect(await cookieLines(ours)).toEqual([
      '::1\tFALSE\t/\tFALSE\t0\tdom\t1',
      '::1\tFALSE\t/\tFALSE\t0\tdot\t2',
      '::1\tFALSE\t/\tFALSE\t0\tplain\t3',
    ]);
    expect(await cookieLines(ours)).toEqual(await cookieLines(theirs));
    const traced = await netkit([
      'http',
      'get',
      `${at.base}/set`,
      '-c',
      path.join(dir, 'ipv6-trace.txt'),
      '--trace',
    ]);
    expect(traced.stderr).toContain(
      'cookie rejected: bracketed: Domain=[::1] is not this host (an address cookie may only name it as Domain=::1)',
    );
    const back = await Promise.all([
      run('curl', ['-sS', '-g', '-b', ours, `${at.base}/back`]),
      netkit(['http', 'get', `${at.base}/back`, '-b', ours]),
      netkit(['http', 'get', `${at.base}/back`, '-b', theirs]),
    ]);
    for (const r of back) expect(r.stdout.split('; ').sort()).toEqual(['dom=1', 'dot=2', 'plain=3']);
  });
});
