/** httpRequest / HttpClient against local servers: methods, bodies, redirects, auth, cookies, limits. */
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import { generateDevCertificate } from '../../src/core/tls.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { createCookieJar, jarToNetscape } from '../../src/http/cookie-jar.js';
import { HttpClient, httpRequest, parseRequestUrl, redactHeader } from '../../src/http/request.js';
import { VERSION } from '../../src/version.js';
import { tempDir } from '../helpers/net.js';
import { startTestServer, type TestServer } from './http-test-server.js';

let a: TestServer;
let b: TestServer;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  [a, b] = await Promise.all([startTestServer(), startTestServer()]);
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
  await cleanup();
});

const echo = async (opts: Parameters<typeof httpRequest>[0]) => {
  const res = await httpRequest(opts);
  return {
    res,
    sent: JSON.parse(res.body.toString()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    },
  };
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NetkitError);
    return `${(err as NetkitError).code}: ${(err as Error).message}`;
  }
  throw new Error('expected a failure');
}

describe('httpRequest', () => {
  it('GET sends netkit/VERSION and Accept */*; returns status, headers and the body', async () => {
    const { res, sent } = await echo({ url: `${a.origin}/echo?x=1#frag` });
    expect(res.status).toBe(200);
    expect(res.statusText).toBe('OK');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.rawHeaders).toContainEqual(['X-Echo', 'yes']);
    expect(sent).toMatchObject({ method: 'GET', url: '/echo?x=1', body: '' });
    expect(sent.headers['user-agent']).toBe(`netkit/${VERSION}`);
    expect(sent.headers.accept).toBe('*/*');
  });

  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const)(
    '%s reaches the server as %s',
    async (method) => {
      const { sent } = await echo({ url: `${a.origin}/echo`, method });
      expect(sent.method).toBe(method);
    },
  );

  it('HEAD returns headers and an empty body', async () => {
    const res = await httpRequest({ url: `${a.origin}/echo`, method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(a.requests.at(-1)!.method).toBe('HEAD');
  });

  it('bodies: raw, form (urlencoded with our urlencode), JSON, file', async () => {
    let r = await echo({ url: `${a.origin}/echo`, method: 'PUT', body: 'raw \u00fc' });
    expect(r.sent.body).toBe('raw \u00fc');
    expect(r.sent.headers['content-length']).toBe('6');
    r = await echo({
      url: `${a.origin}/echo`,
      form: [
        ['user', 'bob'],
        ['q', 'a b&c'],
      ],
    });
    expect(r.sent.method).toBe('POST');
    expect(r.sent.body).toBe('user=bob&q=a+b%26c');
    expect(r.sent.headers['content-type']).toBe('application/x-www-form-urlencoded');
    r = await echo({ url: `${a.origin}/echo`, method: 'PATCH', json: { a: [1, 2] } });
    expect(r.sent.body).toBe('{"a":[1,2]}');
    expect(r.sent.headers['content-type']).toBe('application/json');
    expect(r.sent.headers.accept).toBe('application/json');
    const file = path.join(dir, 'upload.bin');
    await writeFile(file, 'x'.repeat(100_000));
    r = await echo({ url: `${a.origin}/echo`, bodyFile: file, headers: { 'Content-Type': 'text/plain' } });
    expect(r.sent.body.length).toBe(100_000);
    expect(r.sent.headers['content-type']).toBe('text/plain');
  });

  it('user headers override the defaults; an empty value removes one', async () => {
    const { sent } = await echo({
      url: `${a.origin}/echo`,
      headers: [
        ['X-Trace-Id', '42'],
        ['user-agent', 'custom/1'],
        ['Accept', ''],
      ],
    });
    expect(sent.headers['x-trace-id']).toBe('42');
    expect(sent.headers['user-agent']).toBe('custom/1');
    expect(sent.headers.accept).toBeUndefined();
  });

  it('rejects bad input before sending anything', async () => {
    expect(await code(httpRequest({ url: 'http://[::1' }))).toMatch(/^NETKIT_USAGE: invalid URL/);
    expect(await code(httpRequest({ url: 'ftp://example.org/x' }))).toMatch(
      /^NETKIT_USAGE: unsupported URL scheme "ftp"/,
    );
    expect(await code(httpRequest({ url: 'not a url' }))).toMatch(/^NETKIT_USAGE/);
    expect(await code(httpRequest({ url: a.origin, json: '{oops' }))).toMatch(
      /^NETKIT_USAGE: --json body is not valid JSON/,
    );
    expect(await code(httpRequest({ url: a.origin, body: 'x', form: { a: '1' } }))).toMatch(/only one of/);
    expect(await code(httpRequest({ url: a.origin, method: 'HEAD', body: 'x' }))).toMatch(
      /HEAD request cannot have a body/,
    );
    expect(await code(httpRequest({ url: a.origin, headers: { 'Bad Name': 'x' } }))).toMatch(
      /bad header name/,
    );
    expect(await code(httpRequest({ url: a.origin, headers: { X: 'a\r\nInjected: 1' } }))).toMatch(
      /bad value/,
    );
    expect(await code(httpRequest({ url: a.origin, bodyFile: path.join(dir, 'missing') }))).toMatch(
      /^NETKIT_IO/,
    );
  });
});

describe('redirects', () => {
  it('are not followed unless asked', async () => {
    const res = await httpRequest({ url: `${a.origin}/redirect/302` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/echo');
    expect(res.redirects).toEqual([]);
  });

  it('303 → GET without the body; 301/302 after POST → GET; 307/308 keep method and body', async () => {
    const post = (code: number) =>
      echo({ url: `${a.origin}/redirect/${code}`, form: { a: '1' }, followRedirects: true });
    for (const c of [301, 302, 303]) {
      const { res, sent } = await post(c);
      expect(sent.method).toBe('GET');
      expect(sent.body).toBe('');
      expect(sent.headers['content-type']).toBeUndefined();
      expect(res.redirects).toEqual([
        { url: `${a.origin}/redirect/${c}`, status: c, location: `${a.origin}/echo` },
      ]);
    }
    for (const c of [307, 308]) {
      const { sent } = await post(c);
      expect(sent.method).toBe('POST');
      expect(sent.body).toBe('a=1');
    }
    const file = path.join(dir, 'again.txt');
    await writeFile(file, 'file body');
    const { sent } = await echo({
      url: `${a.origin}/redirect/308`,
      method: 'PUT',
      bodyFile: file,
      followRedirects: true,
    });
    expect(sent).toMatchObject({ method: 'PUT', body: 'file body' });
    const head = await httpRequest({
      url: `${a.origin}/redirect/303`,
      method: 'HEAD',
      followRedirects: true,
    });
    expect(head.status).toBe(200);
    expect(a.requests.at(-1)!.method).toBe('HEAD');
    const put = await echo({
      url: `${a.origin}/redirect/302`,
      method: 'PUT',
      body: 'p',
      followRedirects: true,
    });
    expect(put.sent).toMatchObject({ method: 'PUT', body: 'p' });
  });

  it('chains up to maxRedirects; beyond that, and loops, fail with NETKIT_PROTOCOL', async () => {
    const ok = await httpRequest({ url: `${a.origin}/chain/3`, followRedirects: true, maxRedirects: 3 });
    expect(ok.status).toBe(200);
    expect(ok.redirects).toHaveLength(3);
    expect(
      await code(httpRequest({ url: `${a.origin}/chain/3`, followRedirects: true, maxRedirects: 2 })),
    ).toMatch(/^NETKIT_PROTOCOL: too many redirects \(more than 2\)/);
    const before = a.requests.length;
    expect(await code(httpRequest({ url: `${a.origin}/loop`, followRedirects: true }))).toMatch(
      /^NETKIT_PROTOCOL: too many redirects \(more than 20\).*\/loop/,
    );
    expect(a.requests.length - before).toBe(21);
  });

  it('bad Location targets fail clearly', async () => {
    const to = (loc: string) =>
      httpRequest({ url: `${a.origin}/redirect/302?to=${encodeURIComponent(loc)}`, followRedirects: true });
    expect(await code(to('ftp://example.org/'))).toMatch(/^NETKIT_PROTOCOL: redirect to unsupported URL/);
    expect(await code(to('http://[::1'))).toMatch(/^NETKIT_PROTOCOL: bad redirect Location/);
  });

  it('Authorization, user Cookie headers and extra cookies stay on the original origin', async () => {
    const common = {
      auth: { username: 'bob', password: 'pw' },
      headers: { Cookie: 'fromheader=1', 'X-Keep': 'yes' },
      cookies: ['extra=2'],
      followRedirects: true,
    };
    const same = await echo({ url: `${a.origin}/redirect/302?to=/echo`, ...common });
    expect(same.sent.headers.authorization).toBe(`Basic ${Buffer.from('bob:pw').toString('base64')}`);
    expect(same.sent.headers.cookie).toBe('fromheader=1; extra=2');
    const cross = await echo({
      url: `${a.origin}/redirect/302?to=${encodeURIComponent(`${b.origin}/echo`)}`,
      ...common,
    });
    expect(cross.res.url).toBe(`${b.origin}/echo`);
    expect(cross.sent.headers.authorization).toBeUndefined();
    expect(cross.sent.headers.cookie).toBeUndefined();
    expect(cross.sent.headers['x-keep']).toBe('yes');
  });
});

describe('auth, cookies, limits, TLS, trace', () => {
  it('basic auth from the option or from the URL (password with ":")', async () => {
    const res = await httpRequest({
      url: `${a.origin}/auth`,
      auth: { username: 'bob', password: 's3cret:x' },
    });
    expect([res.status, res.body.toString()]).toEqual([200, 'hello bob\n']);
    const fromUrl = await httpRequest({ url: `http://bob:s3cret%3Ax@127.0.0.1:${a.port}/auth` });
    expect(fromUrl.status).toBe(200);
    expect(fromUrl.url).toBe(`${a.origin}/auth`);
    const wrong = await httpRequest({ url: `${a.origin}/auth`, auth: { username: 'bob', password: 'no' } });
    expect(wrong.status).toBe(401);
  });

  it('a cookie jar carries a login across requests (the HTTPCookieProcessor example)', async () => {
    const jar = createCookieJar();
    const client = new HttpClient({ cookieJar: jar, followRedirects: true });
    try {
      const login = await client.request({
        url: `${a.origin}/login`,
        form: { user: 'bob', password: 'secret' },
      });
      expect([login.status, await login.body.text()]).toEqual([200, 'welcome bob\n']);
      const again = await client.request({ url: `${a.origin}/home` });
      expect(await again.body.text()).toBe('welcome bob\n');
    } finally {
      await client.close();
    }
    const saved = await jarToNetscape(jar);
    expect(saved).toMatchObject([{ name: 'session', domain: '127.0.0.1', httpOnly: true, expires: 0 }]);
    const anonymous = await httpRequest({ url: `${a.origin}/home` });
    expect(anonymous.status).toBe(401);
  });

  it('timeouts, refused connections, cut bodies and oversize bodies fail with stable codes', async () => {
    const t0 = Date.now();
    expect(await code(httpRequest({ url: `${a.origin}/stall`, timeoutMs: 300 }))).toMatch(
      /^NETKIT_TIMEOUT: timed out waiting for the response/,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    const closed = await startTestServer();
    await closed.close();
    expect(await code(httpRequest({ url: `${closed.origin}/` }))).toMatch(
      /^NETKIT_CONNECT_FAILED: connection refused/,
    );
    expect(await code(httpRequest({ url: `${a.origin}/cut` }))).toMatch(
      /^NETKIT_PROTOCOL: connection to .* closed/,
    );
    expect(await code(httpRequest({ url: `${a.origin}/bytes?n=5000`, maxBodyBytes: 4096 }))).toMatch(
      /^NETKIT_TOO_LARGE/,
    );
  });

  it('verifies TLS certificates unless insecure', async () => {
    const { cert, key } = await generateDevCertificate();
    const server = https.createServer({ cert, key }, (_req, res) => res.end('secure hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      expect(await code(httpRequest({ url }))).toMatch(
        /^NETKIT_CONNECT_FAILED: TLS certificate .* not trusted.*--insecure/,
      );
      const res = await httpRequest({ url, insecure: true });
      expect(res.body.toString()).toBe('secure hello');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('trace events show the exchange with Authorization and cookie values redacted', async () => {
    const jar = createCookieJar();
    const client = new HttpClient({ cookieJar: jar, followRedirects: true });
    const events: TraceEvent[] = [];
    client.on('trace', (e: TraceEvent) => events.push(e));
    try {
      const res = await client.request({
        url: `${a.origin}/login`,
        form: { user: 'bob', password: 'secret' },
        auth: { username: 'bob', password: 'topsecret' },
      });
      await res.body.dump();
    } finally {
      await client.close();
    }
    const text = events.map((e) => `${e.kind} ${e.text}`);
    expect(text).toContain('out POST /login HTTP/1.1');
    expect(text).toContain('out Authorization: Basic ****');
    expect(text).toContain('in HTTP/1.1 302 Found');
    expect(text.some((t) => /^in Set-Cookie: session=\*\*\*\*; Path=\/; HttpOnly$/.test(t))).toBe(true);
    expect(text).toContain('out Cookie: session=****');
    expect(text.some((t) => t.startsWith('info redirect 302'))).toBe(true);
    const session = (await jar.store.getAllCookies())[0]!.value;
    const all = text.join('\n');
    expect(all).not.toContain(session);
    expect(all).not.toContain(Buffer.from('bob:topsecret').toString('base64'));
    expect(all).not.toContain('secret');
  });
});

describe('helpers', () => {
  it('parseRequestUrl splits off user info and the fragment', () => {
    const r = parseRequestUrl('https://u%40x:p%3Aw@Example.org:8443/a?b#c');
    expect(r.url.href).toBe('https://example.org:8443/a?b');
    expect(r.auth).toEqual({ username: 'u@x', password: 'p:w' });
  });

  it('redactHeader', () => {
    expect(redactHeader('Authorization', 'Bearer abc.def')).toBe('Bearer ****');
    expect(redactHeader('cookie', 'a=1; b=2')).toBe('a=****; b=****');
    expect(redactHeader('Set-Cookie', 'id=9; Path=/; Secure')).toBe('id=****; Path=/; Secure');
    expect(redactHeader('Accept', '*/*')).toBe('*/*');
  });
});
