/**
 * Proxies for `netkit http` and `netkit download`: how flags and environment pick one (units), and
 * the real thing through tinyproxy (Debian `tinyproxy`): absolute-form forwarding of http:// URLs,
 * CONNECT tunnels for https:// (TLS end to end), Basic proxy authentication, `no_proxy`, and a
 * multi-connection download whose bytes all pass through the proxy.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { download } from '../../src/http/download/index.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { normaliseProxyUrl, proxyFor, proxyRoute, redactProxy } from '../../src/http/proxy.js';
import { HttpClient } from '../../src/http/request.js';
import { netkit, tempDir } from '../helpers/net.js';
import { startTinyproxy, type TinyproxyHandle } from '../helpers/tinyproxy.js';
import { startTestServer, type TestServer } from './http-test-server.js';

describe('proxy selection (curl rules)', () => {
  it('takes --proxy over the environment, and "" means none at all', () => {
    const env = { http_proxy: 'http://env:1', https_proxy: 'http://envs:2' };
    expect(proxyRoute({ proxy: 'p:3128' }, env)).toEqual({
      httpProxy: 'p:3128',
      httpsProxy: 'p:3128',
      noProxy: '',
    });
    expect(proxyFor(proxyRoute({ proxy: 'p:3128' }, env), new URL('https://x/'))).toBe('http://p:3128');
    expect(proxyRoute({ proxy: '' }, env)).toBeUndefined();
    expect(proxyRoute({}, {})).toBeUndefined();
  });

  it('reads http_proxy (never HTTP_PROXY), https_proxy or HTTPS_PROXY, all_proxy as the fallback', () => {
    expect(proxyRoute({}, { HTTP_PROXY: 'http://cgi-header:1' })).toBeUndefined();
    expect(proxyRoute({}, { http_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2' })).toEqual({
      httpProxy: 'http://a:1',
      httpsProxy: 'http://b:2',
      noProxy: '',
    });
    expect(proxyRoute({}, { ALL_PROXY: 'http://s:1080', https_proxy: 'http://b:2' })).toEqual({
      httpProxy: 'http://s:1080',
      httpsProxy: 'http://b:2',
      noProxy: '',
    });
    expect(proxyRoute({}, { http_proxy: 'http://a:1', no_proxy: '*' })).toBeUndefined();
    // a bad proxy in the environment only matters to the requests that would use it
    const route = proxyRoute({}, { all_proxy: 'socks://desktop:1080', no_proxy: 'localhost' });
    expect(proxyFor(route, new URL('http://localhost:8080/'))).toBeUndefined();
    expect(() => proxyFor(route, new URL('http://example.org/'))).toThrow(/SOCKS proxies are not supported/);
  });

  it('matches no_proxy entries as curl does: the host, its subdomains, an optional port', () => {
    const route = proxyRoute(
      { proxy: 'http://p:1', noProxy: 'example.org, .internal, host:8080, [::1]' },
      {},
    )!;
    const via = (u: string) => proxyFor(route, new URL(u));
    expect(via('http://example.org/')).toBeUndefined();
    expect(via('https://www.example.org/')).toBeUndefined();
    expect(via('http://notexample.org/')).toBe('http://p:1');
    expect(via('http://a.internal/')).toBeUndefined();
    expect(via('http://host:8080/')).toBeUndefined();
    expect(via('http://host:8081/')).toBe('http://p:1');
    expect(via('http://[::1]:9/')).toBeUndefined();
    const v6 = proxyRoute({ proxy: 'http://p:1', noProxy: '::1,10.0.0.0/8,[fe80::1]:8080,*.0.0.1' }, {})!;
    expect(proxyFor(v6, new URL('http://[::1]/'))).toBeUndefined();
    expect(proxyFor(v6, new URL('http://10.20.30.40/'))).toBeUndefined();
    expect(proxyFor(v6, new URL('http://11.0.0.1/'))).toBe('http://p:1');
    expect(proxyFor(v6, new URL('http://[fe80::1]:8080/'))).toBeUndefined();
    expect(proxyFor(v6, new URL('http://[fe80::1]:8081/'))).toBe('http://p:1');
    // an address matches only itself, never as a "subdomain" (curl: *.0.0.1 does not cover 127.0.0.1)
    expect(proxyFor(v6, new URL('http://127.0.0.1/'))).toBe('http://p:1');
    expect(proxyFor(proxyRoute({}, { https_proxy: 'http://p:1' }), new URL('http://x/'))).toBeUndefined();
  });

  it('refuses proxy URLs that cannot be one, without showing the password', () => {
    expect(normaliseProxyUrl('proxy.lan:3128')).toBe('http://proxy.lan:3128');
    expect(normaliseProxyUrl('https://u:p@proxy:8443')).toBe('https://u:p@proxy:8443');
    // curl's default ports, and a path ignored as curl ignores it
    expect(normaliseProxyUrl('proxy.lan')).toBe('http://proxy.lan:1080');
    expect(normaliseProxyUrl('http://proxy.lan:80')).toBe('http://proxy.lan');
    expect(normaliseProxyUrl('[::1]')).toBe('http://[::1]:1080');
    expect(normaliseProxyUrl('http://u:p@[::1]:3128/x')).toBe('http://u:p@[::1]:3128');
    expect(normaliseProxyUrl('https://proxy.lan')).toBe('https://proxy.lan:443');
    expect(normaliseProxyUrl('http://proxy:1/path')).toBe('http://proxy:1');
    expect(() => normaliseProxyUrl('ftp://proxy:21')).toThrow(/use http:\/\/ or https:\/\//);
    expect(() => normaliseProxyUrl('socks5://proxy:1080')).toThrow(/SOCKS proxies are not supported/);
    expect(() => normaliseProxyUrl('u:hunter2@proxy:notaport')).toThrow(
      /invalid proxy URL "u:\*\*\*\*@proxy:notaport"/,
    );
    expect(redactProxy('http://bob:s3cret@proxy:3128')).toBe('http://bob:****@proxy:3128');
    expect(redactProxy('http://bob:p@ss/w@proxy:3128')).toBe('http://bob:****@proxy:3128');
    expect(redactProxy('bob:s3cret@proxy:3128')).toBe('bob:****@proxy:3128');
    expect(redactProxy('http://proxy:3128')).toBe('http://proxy:3128');
  });
});

describe('through tinyproxy', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let proxy: TinyproxyHandle;
  let authProxy: TinyproxyHandle;
  let origin: TestServer;
  let secure: https.Server;
  let secureUrl: string;
  let caFile: string;
  let files: FileServerHandle;
  let big: Buffer;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('netkit-proxy-'));
    const [plainDir, authDir, wwwDir] = ['p', 'a', 'www'].map((d) => path.join(dir, d));
    const { mkdir } = await import('node:fs/promises');
    await Promise.all([plainDir, authDir, wwwDir].map((d) => mkdir(d!)));
    big = randomBytes(3 * 1024 * 1024 + 123);
    await writeFile(path.join(wwwDir!, 'big.bin'), big);
    [proxy, authProxy, origin, files] = await Promise.all([
      startTinyproxy(plainDir!),
      startTinyproxy(authDir!, { auth: { user: 'bob', password: 's3cret' } }),
      startTestServer(),
      createFileServer({ root: wwwDir!, port: 0 }),
    ]);
    const { cert, key } = await generateDevCertificate();
    secure = https.createServer({ cert, key }, (_req, res) => res.end('secure hello'));
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/`;
    caFile = path.join(dir, 'origin-ca.pem');
    await writeFile(caFile, cert);
  });
  afterAll(async () => {
    await Promise.all([proxy?.stop(), authProxy?.stop(), origin?.close(), files?.close(100)]);
    await new Promise((r) => secure?.close(r));
    await cleanup();
  });

  it('sends an http:// request through the proxy as an absolute-form request (curl -x)', async () => {
    const r = await netkit(['http', 'get', '-x', proxy.url, `${origin.origin}/echo`]);
    expect(r.code).toBe(0);
    const sent = JSON.parse(r.stdout) as { url: string; headers: Record<string, string> };
    // tinyproxy added its Via header on the way: the request did pass through it
    expect(sent.headers.via).toMatch(/tinyproxy/);
    expect(sent.url).toBe('/echo');
  });

  it('tunnels https:// with CONNECT: TLS is end to end, so the origin certificate is the one checked', async () => {
    const client = new HttpClient({ proxy: proxy.url, insecure: true });
    const res = await client.request({ url: secureUrl });
    expect(await res.body.text()).toBe('secure hello');
    await client.close();
    expect(proxy.log()).toMatch(/CONNECT 127\.0\.0\.1:\d+/);

    const strict = await netkit(['http', 'get', '-x', proxy.url, secureUrl]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/TLS certificate of 127\.0\.0\.1:\d+ not trusted/);
  });

  it('--cacert reaches through the tunnel: the origin is verified against it (http get and download)', async () => {
    const get = await netkit(['http', 'get', '-x', proxy.url, '--cacert', caFile, secureUrl]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe('secure hello');
    const out = path.join(dir, 'via-proxy.txt');
    const dl = await netkit([
      'download',
      '-x',
      proxy.url,
      '--cacert',
      caFile,
      '-o',
      out,
      '--quiet',
      secureUrl,
    ]);
    expect(dl.code, dl.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('secure hello');
    // the file replaces the system roots: another CA does not vouch for this origin
    const other = path.join(dir, 'other-ca.pem');
    await writeFile(other, (await generateDevCertificate()).cert);
    const refused = await netkit([
      'download',
      '-x',
      proxy.url,
      '--cacert',
      other,
      '-o',
      out,
      '--quiet',
      '--retries',
      '0',
      secureUrl,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/certificate/i);
  });

  it('takes http_proxy from the environment and skips it for --noproxy / no_proxy hosts', async () => {
    const viaEnv = await netkit(['http', 'get', `${origin.origin}/echo`], { env: { http_proxy: proxy.url } });
    expect(JSON.parse(viaEnv.stdout).headers.via).toMatch(/tinyproxy/);
    const bypass = await netkit(['http', 'get', `${origin.origin}/echo`], {
      env: { http_proxy: proxy.url, no_proxy: '127.0.0.1' },
    });
    expect(JSON.parse(bypass.stdout).headers.via).toBeUndefined();
    const flag = await netkit(['http', 'get', '--noproxy', '*', `${origin.origin}/echo`], {
      env: { http_proxy: proxy.url },
    });
    expect(JSON.parse(flag.stdout).headers.via).toBeUndefined();
    const none = await netkit(['http', 'get', '-x', '', `${origin.origin}/echo`], {
      env: { http_proxy: proxy.url },
    });
    expect(JSON.parse(none.stdout).headers.via).toBeUndefined();
  });

  it('authenticates to the proxy with the credentials in its URL, and never prints the password', async () => {
    const creds = authProxy.url.replace('http://', 'http://bob:s3cret@');
    const ok = await netkit(['http', 'get', '--trace', '-x', creds, `${origin.origin}/echo`]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).headers.via).toMatch(/tinyproxy/);
    // the proxy takes Proxy-Authorization for itself: the origin never sees it
    expect(JSON.parse(ok.stdout).headers['proxy-authorization']).toBeUndefined();
    expect(ok.stderr).toContain('via proxy http://bob:****@');
    expect(ok.stderr).not.toContain('s3cret');

    const denied = await netkit(['http', 'get', '-x', authProxy.url, `${origin.origin}/echo`]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(
      /^netkit: proxy 127\.0\.0\.1:\d+ refused the request to 127\.0\.0\.1:\d+: HTTP 407 \(proxy authentication required/,
    );

    const tunnel = await netkit(['http', 'get', '-k', '-x', authProxy.url, secureUrl]);
    expect(tunnel.code).toBe(1);
    expect(tunnel.stderr).toMatch(
      /^netkit: proxy 127\.0\.0\.1:\d+ refused the tunnel to 127\.0\.0\.1:\d+: HTTP 407 \(proxy authentication required/,
    );
    expect(tunnel.stderr.trim().split('\n')).toHaveLength(1);
    const tunnelOk = await netkit(['http', 'get', '-k', '-x', creds, secureUrl]);
    expect(tunnelOk.stdout).toBe('secure hello');
  });

  it('speaks TLS to an https:// proxy (ncat --ssl --proxy-type http), checking its certificate', async () => {
    const { freePort, waitForPort } = await import('../../bench/_net.mjs');
    const port = await freePort();
    // without --ssl-cert ncat makes itself a throw-away self-signed certificate
    const ncat = spawn('ncat', ['-l', '127.0.0.1', String(port), '-k', '--proxy-type', 'http', '--ssl'], {
      stdio: 'ignore',
    });
    try {
      expect(await waitForPort(port)).toBe(true);
      const ok = await netkit([
        'http',
        'get',
        '-k',
        '-x',
        `https://localhost:${port}`,
        `${origin.origin}/echo`,
      ]);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout).url).toBe('/echo');
      // by address too: no Node deprecation chatter (undici sets the IP as TLS server name) on stderr
      const byIp = await netkit([
        'http',
        'get',
        '-k',
        '-x',
        `https://127.0.0.1:${port}`,
        `${origin.origin}/echo`,
      ]);
      expect(byIp.code).toBe(0);
      expect(byIp.stderr).toBe('');
      const strict = await netkit([
        'http',
        'get',
        '-x',
        `https://localhost:${port}`,
        `${origin.origin}/echo`,
      ]);
      expect(strict.code).toBe(1);
      expect(strict.stderr).toMatch(
        /^netkit: TLS certificate of proxy localhost:\d+ \(for 127\.0\.0\.1:\d+\) not trusted/,
      );
    } finally {
      ncat.kill();
    }
  });

  it('refuses -H Proxy-Authorization when a proxy is used: the credentials go in the proxy URL', async () => {
    const header = `Proxy-Authorization: Basic ${Buffer.from('bob:s3cret').toString('base64')}`;
    for (const args of [
      ['http', 'get', '-H', header, '-x', authProxy.url, `${origin.origin}/echo`],
      ['download', '-H', header, '-x', authProxy.url, '-o', path.join(dir, 'pa.out'), `${files.url}big.bin`],
    ]) {
      const r = await netkit(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/give the proxy credentials in the proxy URL/);
    }
  });

  it('says it is the proxy that refused the connection', async () => {
    const { freePort } = await import('../../bench/_net.mjs');
    const closed = await freePort();
    const r = await netkit(['http', 'get', '-x', `127.0.0.1:${closed}`, `${origin.origin}/echo`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/connection refused by proxy 127\.0\.0\.1:\d+ \(for 127\.0\.0\.1:\d+\)/);
    const bad = await netkit(['http', 'get', '-x', 'ftp://127.0.0.1:21', `${origin.origin}/echo`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid proxy URL/);
  });

  it('downloads in segments over several connections through the proxy, byte-identical', async () => {
    const out = path.join(dir, 'big.out');
    const handle = download(`${files.url}big.bin`, {
      output: out,
      connections: 4,
      minSegmentSize: 256 * 1024,
      proxy: proxy.url,
      progressIntervalMs: 50,
    });
    const traces: string[] = [];
    handle.on('trace', (ev: { text: string }) => traces.push(ev.text));
    const result = await handle.promise;
    expect((await readFile(out)).equals(big)).toBe(true);
    expect(result.connections).toBeGreaterThan(1);
    expect(traces).toContain(`via proxy ${proxy.url}`);
    const log = proxy.log();
    expect(log).toMatch(/Range|GET http:\/\/127\.0\.0\.1:\d+\/big\.bin/);

    const cli = await netkit([
      'download',
      '--quiet',
      '-x',
      proxy.url,
      '-o',
      path.join(dir, 'cli.out'),
      `${files.url}big.bin`,
    ]);
    expect(cli.code).toBe(0);
    expect((await readFile(path.join(dir, 'cli.out'))).equals(big)).toBe(true);
  });
});
