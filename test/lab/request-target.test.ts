/** The dashboard's reading of request targets and Host values (pure; table tests). */
import { describe, expect, it } from 'vitest';
import { validHost } from '../../src/core/host-check.js';
import { parseRequest, parseTarget } from '../../src/lab/request-target.js';

describe('parseTarget', () => {
  it.each([
    ['/', '/', ''],
    ['/api/v1/messages?mailbox=bob&q=a+b', '/api/v1/messages', '?mailbox=bob&q=a+b'],
    [
      '/api/v1/messages/bob/1700000000.M1P2.host%3A2%2C',
      '/api/v1/messages/bob/1700000000.M1P2.host%3A2%2C',
      '',
    ],
    // browsers send these unencoded in a query; URLSearchParams reads anything
    ['/api/v1/messages?q=[x]{y}|^`', '/api/v1/messages', '?q=[x]{y}|^`'],
    ['http://127.0.0.1:8025/api/v1/status', '/api/v1/status', ''],
    ['HTTP://localhost/livez?x=1', '/livez', '?x=1'],
    ['http://[::1]:8025', '/', ''],
    ['*', '/*', ''],
    // dot-segments are resolved, %2F stays a byte of its segment
    ['/a/../app.js', '/app.js', ''],
    ['/a%2F..%2Fb', '/a%2F..%2Fb', ''],
  ])('reads %j as path %j and query %j', (target, pathname, search) => {
    const r = parseTarget(target);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.url.pathname).toBe(pathname);
      expect(r.url.search).toBe(search);
    }
  });

  it('names the authority of an absolute-form target', () => {
    const r = parseTarget('http://evil.example:80/api/v1/mailboxes');
    expect(r.ok && r.authority).toBe('evil.example:80');
    expect(parseTarget('/x').ok && (parseTarget('/x') as { authority?: string }).authority).toBeUndefined();
  });

  it.each([
    ['//[', /begins with \/\//],
    ['//x:99999', /begins with \/\//],
    ['//x/api/v1/mailboxes', /begins with \/\//],
    ['http://127.0.0.1//x', /begins with \/\//],
    ['http://[', /authority/],
    ['http://[::1/', /authority/],
    ['http://[not-v6]/', /authority/],
    ['http://x:99999/', /authority/],
    ['http://%zz/', /authority/],
    ['http:///', /authority/],
    ['http://a b/', /spaces/],
    ['http://user:pw@127.0.0.1/', /userinfo/],
    ['/a b', /spaces/],
    ['/a\tb', /spaces/],
    ['/a\u0000', /spaces/],
    ['/\u007f', /spaces/],
    ['/é', /spaces/],
    ['', /spaces/],
    ['x', /neither/],
    ['ftp://127.0.0.1/', /neither/],
    ['/[', /malformed/],
    ['/a%zz', /malformed/],
    ['/a%', /malformed/],
    ['/a\\..\\b', /malformed/],
    ['/a"b', /malformed/],
    ['/a<b>', /malformed/],
    ['/a|b', /malformed/],
  ])('refuses %j', (target, reason) => {
    const r = parseTarget(target);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe('validHost', () => {
  it.each([
    '127.0.0.1',
    '127.0.0.1:8025',
    'localhost',
    'LOCALHOST.',
    'lab.localhost:1',
    'lab_box.lan',
    '[::1]',
    '[::1]:8025',
    '[::ffff:127.0.0.1]',
    'x:',
  ])('accepts %j', (h) => expect(validHost(h)).toBe(true));
  it.each([
    '',
    'a b',
    '[',
    '[::1',
    '[zz]',
    'x;y',
    'a,b',
    '127.0.0.1, evil',
    '127.0.0.1:99999',
    '127.0.0.1:123456',
    'user@127.0.0.1',
    '127.0.0.1/x',
    '%41',
  ])('refuses %j', (h) => expect(validHost(h)).toBe(false));
});

describe('parseRequest', () => {
  const req = (url: string, hosts: string[]) => ({
    url,
    headers: { host: hosts[0] },
    headersDistinct: hosts.length ? { host: hosts } : {},
  });
  it('takes the Host header, or the authority of an absolute-form target over it', () => {
    expect(parseRequest(req('/', ['127.0.0.1:1']))).toMatchObject({ ok: true, host: '127.0.0.1:1' });
    expect(parseRequest(req('http://evil.example/', ['127.0.0.1']))).toMatchObject({
      ok: true,
      host: 'evil.example',
    });
    // HTTP/1.0 without Host
    expect(parseRequest(req('/', []))).toMatchObject({ ok: true, host: undefined });
  });
  it('refuses two Host headers, a malformed Host, and a bad target', () => {
    expect(parseRequest(req('/', ['127.0.0.1', 'evil.example']))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/more than one Host/),
    });
    expect(parseRequest(req('/', ['a;b']))).toMatchObject({ ok: false, reason: 'malformed Host' });
    expect(parseRequest(req('//[', ['127.0.0.1']))).toMatchObject({ ok: false });
  });
});
