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
    // curl --location-trusted: every hop gets them
    const trusted = await echo({
      url: `${a.origin}/redirect/302?to=${encodeURIComponent(`${b.origin}/echo`)}`,
      ...common,
      locationTrusted: true,
    });
    expect(trusted.res.url).toBe(`${b.origin}/echo`);
    expect(trusted.sent.headers.authorization).toBe(`Basic ${Buffer.from('bob:pw').toString('base64')}`);
    expect(trusted.sent.headers.cookie).toBe('fromheader=1; extra=2');
  });

  it('only 301, 302, 303, 307 and 308 are followed: a 300, 304, 305 or 306 is the response', async () => {
    for (const c of [300, 304, 305, 306]) {
      const res = await httpRequest({ url: `${a.origin}/redirect/${c}?to=/echo`, followRedirects: true });
      expect([c, res.status, res.redirects]).toEqual([c, c, []]);
    }
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
        /^NETKIT_CONNECT_FAILED: TLS certificate of 127\.0\.0\.1:\d+ not trusted \(self-signed certificate\); trust it with --cacert FILE, or skip verification with --insecure$/,
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

/** Trace lines of one request through a fresh client. */
async function traced(
  opts: Parameters<HttpClient['request']>[0],
  clientOpts: ConstructorParameters<typeof HttpClient>[0] = {},
) {
  const client = new HttpClient(clientOpts);
  const events: TraceEvent[] = [];
  client.on('trace', (e: TraceEvent) => events.push(e));
  try {
    const res = await client.request(opts);
    const body = await res.body.text();
    return { res, body, lines: events.map((e) => `${e.kind} ${e.text}`) };
  } finally {
    await client.close();
  }
}

describe('secrets in traces and hops', () => {
  it('a bare Authorization token, Proxy-Authorization and a cookie without "=" never reach the trace', async () => {
    const { lines } = await traced({
      url: `${a.origin}/echo`,
      headers: [
        ['Authorization', 'sk_live_SECRETKEY123'],
        ['Cookie', 'SECRETONLY'],
      ],
    });
    expect(lines).toContain('out Authorization: ****');
    expect(lines).toContain('out Cookie: ****');
    expect(lines.join('\n')).not.toContain('SECRET');
  });

  it('a password in a redirect Location is hidden in the trace and in the hops', async () => {
    const to = `http://bob:s3cret@127.0.0.1:${a.port}/echo`;
    const { res, lines } = await traced({
      url: `${a.origin}/redirect/302?to=${encodeURIComponent(to)}`,
      followRedirects: true,
    });
    expect(res.url).toBe(`${a.origin}/echo`);
    expect(lines).toContain(`in Location: http://bob:****@127.0.0.1:${a.port}/echo`);
    expect(res.hops[0]!.rawHeaders).toContainEqual(['Location', `http://bob:****@127.0.0.1:${a.port}/echo`]);
    expect(JSON.stringify([res.hops[0]!.rawHeaders, res.redirects[0]!.location])).not.toContain('s3cret');
    // (the request line of the first hop carries the test's own query, percent-encoded)
    expect(lines.filter((l) => !l.startsWith('out GET /redirect/')).join('\n')).not.toContain('s3cret');
    const relative = await traced({
      url: `${a.origin}/redirect/302?to=${encodeURIComponent(`//bob:s3cret@127.0.0.1:${a.port}/echo`)}`,
    });
    expect(relative.lines).toContain(`in Location: //bob:****@127.0.0.1:${a.port}/echo`);
    expect(
      await code(
        httpRequest({
          url: `${a.origin}/redirect/302?to=${encodeURIComponent('ftp://bob:s3cret@example.org/')}`,
          followRedirects: true,
        }),
      ),
    ).toBe('NETKIT_PROTOCOL: redirect to unsupported URL ftp://example.org/');
  });
});

describe('headers as curl sends them', () => {
  it('a custom Host goes to its own host only: dropped when a redirect changes the host name', async () => {
    const other = `other.test:${b.port}`;
    const client = new HttpClient({ resolve: { [other]: '127.0.0.1' }, followRedirects: true });
    try {
      const first = (to: string) =>
        client.request({
          url: `${a.origin}/redirect/302?to=${encodeURIComponent(to)}`,
          headers: { Host: 'vhost.example' },
        });
      const away = await first(`http://${other}/echo`);
      expect(JSON.parse(await away.body.text()).headers.host).toBe(other);
      expect(a.requests.at(-1)!.headers.host).toBe('vhost.example');
      // the same host name on another port keeps it, as curl does
      const samehost = await first(`${b.origin}/echo`);
      expect(JSON.parse(await samehost.body.text()).headers.host).toBe('vhost.example');
    } finally {
      await client.close();
    }
    const { lines } = await traced({ url: `${a.origin}/echo`, headers: { Host: 'vhost.example' } });
    // one Host, as it goes on the wire: undici writes the name in lower case
    expect(lines.filter((l) => /^out host:/i.test(l))).toEqual(['out host: vhost.example']);
  });

  it("an empty Content-Type removes the body's own (JSON, form, multipart), as for raw bodies", async () => {
    const bodies = [
      { json: { a: 1 } },
      { form: { a: '1' } },
      { multipart: [{ name: 'a', value: '1' }] },
      { body: 'a=1' },
    ];
    for (const body of bodies) {
      const { sent } = await echo({ url: `${a.origin}/echo`, ...body, headers: { 'Content-Type': '' } });
      expect(sent.headers['content-type'], JSON.stringify(body)).toBeUndefined();
      expect(sent.method).toBe('POST');
    }
  });

  it('an empty user agent sends no User-Agent header (curl -A "")', async () => {
    const { sent } = await echo({ url: `${a.origin}/echo`, userAgent: '' });
    expect(Object.keys(sent.headers)).not.toContain('user-agent');
  });

  it('headers undici would refuse or frame differently are usage errors, before anything is sent', async () => {
    const before = a.requests.length;
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ 'Transfer-Encoding': 'chunked' }, /^NETKIT_USAGE: header Transfer-Encoding cannot be given/],
      [{ Expect: '100-continue' }, /^NETKIT_USAGE: header Expect cannot be given/],
      [{ Upgrade: 'websocket' }, /^NETKIT_USAGE: header Upgrade cannot be given/],
      [
        { 'Content-Length': '10' },
        /^NETKIT_USAGE: header Content-Length: "10" does not match the body \(3 bytes\)/,
      ],
      [{ 'X-U': 'ü€' }, /^NETKIT_USAGE: bad value for header X-U: characters beyond Latin-1/],
      [{ 'X-C': 'a\u0001b' }, /^NETKIT_USAGE: bad value for header X-C: control characters/],
      [{ Connection: 'keep alive' }, /^NETKIT_USAGE: bad value for header Connection/],
    ];
    for (const [headers, message] of bad)
      expect(
        await code(httpRequest({ url: `${a.origin}/echo`, body: 'abc', headers })),
        message.source,
      ).toMatch(message);
    expect(
      await code(
        httpRequest({
          url: `${a.origin}/echo`,
          headers: [
            ['Host', 'a'],
            ['host', 'b'],
          ],
        }),
      ),
    ).toMatch(/^NETKIT_USAGE: header host given twice/);
    expect(await code(httpRequest({ url: `${a.origin}/echo`, cookies: ['n=€'] }))).toMatch(/beyond Latin-1/);
    expect(a.requests.length).toBe(before);
    // a matching Content-Length and Latin-1 bytes are fine
    const { sent } = await echo({
      url: `${a.origin}/echo`,
      body: 'abc',
      headers: { 'Content-Length': '3', 'X-L': 'caf\u00e9' },
    });
    expect(sent.headers['x-l']).toBe('caf\u00e9');
  });

  it('other methods are sent as written (curl -X); CONNECT and non-tokens are refused', async () => {
    const { sent } = await echo({ url: `${a.origin}/echo`, method: 'PURGE' });
    expect(sent.method).toBe('PURGE');
    expect(await code(httpRequest({ url: a.origin, method: 'CONNECT' }))).toMatch(/^NETKIT_USAGE: CONNECT/);
    expect(await code(httpRequest({ url: a.origin, method: 'BAD METHOD' }))).toMatch(
      /^NETKIT_USAGE: bad method/,
    );
  });

  it('pathAsIs sends the path as written: dot segments, their encodings and an empty query', async () => {
    await httpRequest({ url: `${a.origin}/%2e%2e/x/../echo?`, pathAsIs: true });
    expect(a.requests.at(-1)!.url).toBe('/%2e%2e/x/../echo?');
    await httpRequest({ url: `${a.origin}/a b/\u00fc`, pathAsIs: true });
    expect(a.requests.at(-1)!.url).toBe('/a%20b/%C3%BC');
    await httpRequest({ url: `${a.origin}/%2e%2e/x/../echo?` });
    expect(a.requests.at(-1)!.url).toBe('/echo');
  });

  it('bodyFile reads a pipe or device whole (its length must be known first)', async () => {
    const { sent } = await echo({ url: `${a.origin}/echo`, bodyFile: '/dev/null', method: 'PUT' });
    expect(sent).toMatchObject({ method: 'PUT', body: '' });
    expect(sent.headers['content-length']).toBe('0');
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

  it('redactHeader hides a bare token whole, and a cookie piece without "=" whole', () => {
    const cases: Array<[string, string, string]> = [
      ['Authorization', 'sk_live_SECRETKEY123', '****'],
      ['authorization', 'Basic', '****'],
      ['Authorization', 'Digest username="bob", response="6629fae4"', 'Digest ****'],
      ['Authorization', 'AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ab', 'AWS4-HMAC-SHA256 ****'],
      ['Authorization', 'tok/en+x== more', '****'],
      ['Proxy-Authorization', 'Basic Ym9iOnB3', 'Basic ****'],
      ['Proxy-Authorization', 'opaque-proxy-token', '****'],
      ['Cookie', 'SECRETONLY', '****'],
      ['Cookie', 'a=1; SECRET; b=', 'a=****; ****; b=****'],
      ['Set-Cookie', 'SECRETONLY; Path=/', '****; Path=/'],
      ['X-Api-Key', 'k-123', '****'],
    ];
    for (const [name, value, shown] of cases) expect(redactHeader(name, value), value).toBe(shown);
  });
});
