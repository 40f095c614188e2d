/**
 * The proxy handshakes as pure state machines, byte by byte: HTTP CONNECT request and response
 * head (split anywhere, 1xx skipped, bytes after the head kept, bounded head, refusals), SOCKS5
 * (RFC 1928 greeting, request encodings, every reply code, RFC 1929 auth), SOCKS4/4a, and the
 * proxy URL parser.
 */
import { describe, expect, it } from 'vitest';
import { describeProxy, parseProxyAuth, parseProxyUrl } from '../../src/sockets/proxy.js';
import { basicCredentials, HttpConnectReader, httpConnectRequest } from '../../src/sockets/proxy-http.js';
import {
  SOCKS5_REPLIES,
  Socks4Handshake,
  Socks5Handshake,
  socks5Address,
  socks5AuthRequest,
} from '../../src/sockets/proxy-socks.js';

const b = (...bytes: number[]) => Buffer.from(bytes);
const reader = (withCredentials = false, maxHeadBytes?: number) =>
  new HttpConnectReader({ proxyName: 'HTTP proxy p:1', target: 'h:2', withCredentials, maxHeadBytes });

describe('HTTP CONNECT request', () => {
  it.each([
    ['example.org', 443, undefined, 'CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n'],
    ['::1', 80, undefined, 'CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n'],
    [
      '10.0.0.1',
      22,
      { username: 'Aladdin', password: 'open sesame' },
      'CONNECT 10.0.0.1:22 HTTP/1.1\r\nHost: 10.0.0.1:22\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n',
    ],
  ])('%s:%s', (host, port, auth, wire) => {
    expect(httpConnectRequest(host, port, auth).toString('latin1')).toBe(wire);
  });

  it('encodes credentials as UTF-8 (RFC 7617)', () => {
    expect(basicCredentials({ username: 'test', password: '123£' })).toBe('Basic dGVzdDoxMjPCow==');
  });

  it.each(['a b', 'x\r\nEvil: 1', '', 'a/b', 'u@h', 'h:1'])('refuses the injected target %j', (host) => {
    expect(() => httpConnectRequest(host, 80)).toThrow(/invalid target host/);
  });
});

describe('HTTP CONNECT response', () => {
  const ok = 'HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\n';

  it('opens on 200 fed one byte at a time, keeping the tunnel bytes after the head', () => {
    const r = reader();
    const wire = Buffer.concat([Buffer.from(ok), b(0, 0xff, 0x0a)]);
    let res: ReturnType<HttpConnectReader['push']>;
    for (let i = 0; i < wire.length && !res; i++) res = r.push(wire.subarray(i, i + 1));
    // one byte at a time: the head ends before the tunnel bytes arrive
    expect(res?.status).toBe(200);
    expect(res?.headers).toEqual(['Proxy-Agent: x']);
    const whole = reader().push(wire);
    expect(whole?.statusLine).toBe('HTTP/1.1 200 Connection established');
    expect(whole?.rest).toEqual(b(0, 0xff, 0x0a));
  });

  it.each([
    ['bare LF', 'HTTP/1.0 200 OK\nX: y\n\nDATA', 'DATA'],
    ['no reason phrase', 'HTTP/1.1 204\r\n\r\n', ''],
    ['interim 100 first', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nZ', 'Z'],
  ])('%s', (_name, wire, rest) => {
    const res = reader().push(Buffer.from(wire));
    expect(res?.rest.toString()).toBe(rest);
  });

  it('waits for the end of the head', () => {
    const r = reader();
    expect(r.push(Buffer.from('HTTP/1.1 200 OK\r\nX: 1\r\n'))).toBeUndefined();
    expect(r.push(Buffer.from('\r\n'))?.status).toBe(200);
  });

  it.each([
    [false, 'HTTP/1.1 407 Proxy Authentication Required\r\n\r\n', /requires authentication \(HTTP\/1\.1 407/],
    [true, 'HTTP/1.1 407 Proxy Authentication Required\r\n\r\n', /rejected the credentials/],
    [true, 'HTTP/1.0 401 Unauthorized\r\n\r\n', /rejected the credentials \(HTTP\/1\.0 401 Unauthorized\)/],
    [
      false,
      'HTTP/1.0 403 Access violation\r\n\r\n',
      /refused CONNECT to h:2: HTTP\/1\.0 403 Access violation/,
    ],
    [false, 'HTTP/1.1 502 Bad Gateway\r\n\r\n', /refused CONNECT to h:2: HTTP\/1\.1 502 Bad Gateway/],
    [false, 'SSH-2.0-OpenSSH_9.2\r\n', /did not answer like an HTTP proxy: "SSH-2/],
    [false, 'HTTP/1.1 2000 OK\r\n\r\n', /malformed status line/],
    [false, 'HTTP/2 200\r\n\r\n', /malformed status line/],
  ])('credentials %s: %j is refused', (cred, wire, message) => {
    expect(() => reader(cred).push(Buffer.from(wire))).toThrow(message);
  });

  it('bounds the head', () => {
    const r = reader(false, 64);
    expect(r.push(Buffer.from('HTTP/1.1 200 OK\r\n'))).toBeUndefined();
    expect(() => r.push(Buffer.from(`X: ${'a'.repeat(100)}`))).toThrow(/over 64 bytes/);
  });

  it('names a close before and during the head', () => {
    expect(reader().closed().message).toMatch(/closed the connection without answering CONNECT/);
    const r = reader();
    r.push(Buffer.from('HTTP/1.1 200'));
    expect(r.closed().message).toMatch(/in the middle of its response: "HTTP\/1.1 200"/);
  });
});

describe('SOCKS5', () => {
  it.each([
    ['127.0.0.1', 80, b(1, 127, 0, 0, 1, 0, 80)],
    ['::1', 443, b(4, ...Array(15).fill(0), 1, 1, 0xbb)],
    ['::ffff:1.2.3.4', 1, b(4, ...Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4, 0, 1)],
    ['2001:db8::2', 65535, b(4, 0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 2, 0xff, 0xff)],
    ['ab.c', 8080, b(3, 4, 0x61, 0x62, 0x2e, 0x63, 0x1f, 0x90)],
  ])('address %s:%s', (host, port, wire) => {
    expect(socks5Address(host, port)).toEqual(wire);
  });

  it('refuses a name over 255 bytes and bad credentials lengths', () => {
    expect(() => socks5Address('a'.repeat(256), 1)).toThrow(/1-255 bytes/);
    expect(() => socks5AuthRequest({ username: '', password: 'x' })).toThrow(/RFC 1929/);
    expect(socks5AuthRequest({ username: 'al', password: 'pw' })).toEqual(b(1, 2, 0x61, 0x6c, 2, 0x70, 0x77));
  });

  it('runs greeting, request and reply without auth, keeping bytes past the reply', () => {
    const h = new Socks5Handshake('example.org', 80, { proxyName: 'P' });
    expect(h.start().send).toEqual(b(5, 1, 0));
    const step = h.push(b(5, 0));
    expect(step.send).toEqual(b(5, 1, 0, 3, 11, ...Buffer.from('example.org'), 0, 80));
    expect(step.done).toBeUndefined();
    // reply split in the middle of the bound address, tunnel bytes in the same chunk
    expect(h.push(b(5, 0, 0, 1, 10, 0)).done).toBeUndefined();
    const last = h.push(b(0, 9, 0x04, 0x38, 0, 0xff));
    expect(last.done).toEqual({ rest: b(0, 0xff), bound: '10.0.0.9:1080' });
  });

  it('runs RFC 1929 username/password, and hides the password from its notes', () => {
    const h = new Socks5Handshake('10.1.2.3', 22, {
      proxyName: 'P',
      auth: { username: 'bob', password: 's3cret' },
    });
    expect(h.start().send).toEqual(b(5, 2, 0, 2));
    const auth = h.push(b(5, 2));
    expect(auth.send).toEqual(b(1, 3, 0x62, 0x6f, 0x62, 6, ...Buffer.from('s3cret')));
    const req = h.push(b(1, 0));
    expect(req.send).toEqual(b(5, 1, 0, 1, 10, 1, 2, 3, 0, 22));
    const done = h.push(b(5, 0, 0, 3, 3, 0x61, 0x2e, 0x62, 0, 7));
    expect(done.done).toEqual({ rest: b(), bound: 'a.b:7' });
    expect([...auth.notes, ...req.notes, ...done.notes].join('\n')).not.toContain('s3cret');
  });

  it('names a rejected password, a refused method, a non-SOCKS answer and an early close', () => {
    const auth = { username: 'bob', password: 'x' };
    const h = new Socks5Handshake('h', 1, { proxyName: 'SOCKS5 proxy p:1', auth });
    h.start();
    h.push(b(5, 2));
    expect(() => h.push(b(1, 1))).toThrow(
      'SOCKS5 proxy p:1 rejected the user name or password (RFC 1929 status 1)',
    );
    expect(() => new Socks5Handshake('h', 1, { proxyName: 'P' }).push(b(5, 0xff))).toThrow(
      /requires authentication/,
    );
    expect(() => new Socks5Handshake('h', 1, { proxyName: 'P' }).push(b(5, 2))).toThrow(
      /method 2, which we did not offer/,
    );
    expect(() => new Socks5Handshake('h', 1, { proxyName: 'P' }).push(Buffer.from('HTTP/1.1 400'))).toThrow(
      /is not a SOCKS5 proxy: it answered "HTTP/,
    );
    const early = new Socks5Handshake('h', 1, { proxyName: 'P' });
    early.push(b(5, 0));
    expect(early.closed().message).toBe('P closed the connection during the CONNECT request');
  });

  it.each(Object.entries(SOCKS5_REPLIES))('reply %s: %s', (code, text) => {
    const h = new Socks5Handshake('h.example', 9, { proxyName: 'SOCKS5 proxy p:1' });
    h.push(b(5, 0));
    expect(() => h.push(b(5, Number(code)))).toThrow(
      `SOCKS5 proxy p:1 could not connect to h.example:9: ${text} (SOCKS5 reply ${code})`,
    );
  });
});

describe('SOCKS4 / 4a', () => {
  it('sends an IPv4 request with a user id, and a 4a request with the name', () => {
    expect(
      new Socks4Handshake('1.2.3.4', 80, { proxyName: 'P', auth: { username: 'u', password: '' } }).start()
        .send,
    ).toEqual(b(4, 1, 0, 80, 1, 2, 3, 4, 0x75, 0));
    expect(new Socks4Handshake('ab', 80, { proxyName: 'P' }).start().send).toEqual(
      b(4, 1, 0, 80, 0, 0, 0, 1, 0, 0x61, 0x62, 0),
    );
  });

  it('opens on 90 and names 91-93', () => {
    const ok = new Socks4Handshake('1.2.3.4', 80, { proxyName: 'P' });
    expect(ok.push(b(0, 0x5a, 0, 80))).toEqual({ notes: [] });
    expect(ok.push(b(1, 2, 3, 4, 0x41)).done).toEqual({ rest: b(0x41), bound: '1.2.3.4:80' });
    expect(() =>
      new Socks4Handshake('1.2.3.4', 80, { proxyName: 'P' }).push(b(0, 0x5b, 0, 0, 0, 0, 0, 0)),
    ).toThrow('P could not connect to 1.2.3.4:80: request rejected or failed (SOCKS4 reply 91)');
    expect(() => new Socks4Handshake('::1', 80, { proxyName: 'P' })).toThrow(/IPv6/);
  });
});

describe('proxy URLs', () => {
  it.each([
    ['http://127.0.0.1:8118', { type: 'http', host: '127.0.0.1', port: 8118 }], // a URL, nothing listens
    ['http://proxy.example', { type: 'http', host: 'proxy.example', port: 3128 }],
    ['socks5h://[::1]', { type: 'socks5h', host: '::1', port: 1080 }],
    [
      'SOCKS5://a:p%40ss%3Aw@h:9',
      { type: 'socks5', host: 'h', port: 9, auth: { username: 'a', password: 'p@ss:w' } },
    ],
    ['h:1081', { type: 'http', host: 'h', port: 1081 }],
  ])('%s', (text, spec) => {
    expect(parseProxyUrl(text)).toEqual(spec);
  });

  it('takes the default type for a bare host:port', () => {
    expect(parseProxyUrl('h:5', 'socks4a').type).toBe('socks4a');
  });

  it.each([
    ['https://h:1', /unsupported proxy scheme "https:"/],
    ['ftp://u:secret@h', /unsupported proxy scheme/],
    ['http://h:1/path', /no path or query/],
    ['http://u:secret@h:99999', /invalid proxy URL "http:\/\/u:\*\*\*\*@h:99999"/],
  ])('refuses %s without showing the password', (text, message) => {
    expect(() => parseProxyUrl(text)).toThrow(message);
    try {
      parseProxyUrl(text);
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('describes a proxy with the password hidden, and parses --proxy-auth', () => {
    expect(describeProxy(parseProxyUrl('socks5h://al%20ice:pw@h:1'))).toBe('socks5h://al%20ice:****@h:1');
    expect(parseProxyAuth('bob:a:b')).toEqual({ username: 'bob', password: 'a:b' });
    expect(() => parseProxyAuth('bob')).toThrow(/USER:PASSWORD/);
  });
});
