/**
 * `netkit download` with Basic authentication: credentials from the URL, `-u` or a netrc file,
 * checked by nginx (`auth_basic`) on every segment; never shown in traces, events or the control
 * file; not sent on to another origin after a redirect.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download } from '../../src/http/download/index.js';
import { netkit, tempDir } from '../helpers/net.js';
import { type NginxHandle, startNginx } from '../helpers/nginx.js';
import { startTestServer, type TestServer } from './http-test-server.js';

let dir: string;
let cleanup: () => Promise<void>;
let nginx: NginxHandle;
let a: TestServer;
let b: TestServer;
const data = randomBytes(2 * 1024 * 1024 + 77);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-dl-auth-'));
  await writeFile(path.join(dir, 'secret.bin'), data);
  // an Apache MD5 hash, made by openssl (nginx's {PLAIN} scheme cuts a password at its colon)
  const hash = execFileSync('openssl', ['passwd', '-apr1', 'pa:ss w0rd']).toString().trim();
  await writeFile(path.join(dir, 'users'), `bob:${hash}\n`);
  nginx = await startNginx({
    root: dir,
    serverExtra: `auth_basic "netkit"; auth_basic_user_file ${path.join(dir, 'users')};`,
  });
  [a, b] = await Promise.all([startTestServer(), startTestServer()]);
});
afterAll(async () => {
  await nginx?.stop();
  await Promise.all([a?.close(), b?.close()]);
  await cleanup();
});

describe('download with Basic authentication', () => {
  it('takes user:password from the URL, sends it with every segment, and shows it nowhere', async () => {
    const url = nginx.url.replace('http://', 'http://bob:pa%3Ass%20w0rd@');
    const out = path.join(dir, 'from-url.bin');
    const r = await netkit(['download', '--trace', '-c', '4', '-k', '256K', '-o', out, `${url}secret.bin`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(r.stderr.match(/Range: bytes=/g)?.length).toBeGreaterThan(1);
    expect(r.stderr).not.toContain('w0rd');
    expect(r.stderr).not.toContain('pa%3Ass');
  });

  it('takes -u USER:PASSWORD or a netrc entry; without credentials nginx says 401', async () => {
    const viaUser = await netkit([
      'download',
      '--quiet',
      '-u',
      'bob:pa:ss w0rd',
      '-o',
      path.join(dir, 'u.bin'),
      `${nginx.url}secret.bin`,
    ]);
    expect(viaUser.code, viaUser.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'u.bin'))).equals(data)).toBe(true);

    const netrc = path.join(dir, 'netrc');
    await writeFile(netrc, 'machine 127.0.0.1 login bob password "pa:ss w0rd"\n', { mode: 0o600 });
    const viaNetrc = await netkit(
      ['download', '--quiet', '-n', '-o', path.join(dir, 'n.bin'), `${nginx.url}secret.bin`],
      {
        env: { NETRC: netrc },
      },
    );
    expect(viaNetrc.code, viaNetrc.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'n.bin'))).equals(data)).toBe(true);

    const none = await netkit([
      'download',
      '--quiet',
      '-o',
      path.join(dir, 'x.bin'),
      `${nginx.url}secret.bin`,
    ]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/HTTP 401/);
  });

  it('keeps the credentials off the start event and away from another origin after a redirect', async () => {
    const out = path.join(dir, 'echo.json');
    const target = `${b.origin}/echo`;
    const url = `${a.origin.replace('http://', 'http://bob:hunter2@')}/redirect/302?to=${encodeURIComponent(target)}`;
    const handle = download(url, {
      output: out,
      connections: 1,
      headers: { cookie: 'session=abc' },
    });
    let started = '';
    handle.on('start', (s: { url: string }) => {
      started = s.url;
    });
    await handle.promise;
    expect(started).not.toContain('hunter2');
    // server A got the credentials, server B (another origin) did not
    expect(a.requests.at(-1)?.headers.authorization).toBe(
      `Basic ${Buffer.from('bob:hunter2').toString('base64')}`,
    );
    expect(a.requests.at(-1)?.headers.cookie).toBe('session=abc');
    // nor does a Cookie or Authorization header the caller added (curl -L drops them too)
    const echoed = JSON.parse(await readFile(out, 'utf8')) as { headers: Record<string, string> };
    expect(echoed.headers.authorization).toBeUndefined();
    expect(echoed.headers.cookie).toBeUndefined();
    const bearer = path.join(dir, 'bearer.json');
    await download(`${a.origin}/redirect/302?to=${encodeURIComponent(target)}`, {
      output: bearer,
      headers: { Authorization: 'Bearer T0KEN' },
    }).promise;
    expect(a.requests.at(-1)?.headers.authorization).toBe('Bearer T0KEN');
    expect(JSON.parse(await readFile(bearer, 'utf8')).headers.authorization).toBeUndefined();
  });

  it('never echoes a password from a URL it cannot use, nor one from a redirect', async () => {
    const runs = await Promise.all([
      netkit(['download', 'http://alice:SECRETX@127.0.0.1:99999/f']),
      netkit(['http', 'get', 'http://alice:SECRETY@127.0.0.1:99999/x']),
      netkit(['http', 'get', 'gopher://alice:SECRETY@127.0.0.1/x']),
      netkit(['ftp', 'ls', 'ftp://bob:SECRET%zz@127.0.0.1:1/']),
      netkit(['ftp', 'ls', 'ftp://bob:SEC/RET@127.0.0.1:1/']),
    ]);
    for (const r of runs) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toMatch(/SECRET|SEC\/RET/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // a Location carrying credentials: followed, but they are not used or shown
    const target = `${b.origin.replace('http://', 'http://eve:L0cationPw@')}/echo`;
    const r = await netkit([
      'download',
      '--json',
      '--quiet',
      '-o',
      path.join(dir, 'loc.json'),
      `${a.origin}/redirect/302?to=${encodeURIComponent(target)}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('L0cationPw');
    expect(
      JSON.parse(await readFile(path.join(dir, 'loc.json'), 'utf8')).headers.authorization,
    ).toBeUndefined();
  });
});
