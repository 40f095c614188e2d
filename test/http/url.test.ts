/** URL API details beyond the Python corpus (types, error codes, WHATWG differences) and `netkit url`. */
import { describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import {
  ParseResult,
  parseQs,
  parseQsl,
  quote,
  unquote,
  urldefrag,
  urlencode,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
} from '../../src/http/url.js';
import { netkit } from '../helpers/net.js';

function thrown(fn: () => unknown): NetkitError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NetkitError);
    return err as NetkitError;
  }
  throw new Error('expected a throw');
}

describe('ParseResult', () => {
  it('has the six fields, the netloc properties, geturl() and toJSON()', () => {
    const r = urlparse('HTTP://Bob:pw@[FE80::1%25Eth0]:8080/p;x?q#f');
    expect(r).toBeInstanceOf(ParseResult);
    expect(r.toJSON()).toEqual({
      scheme: 'http',
      netloc: 'Bob:pw@[FE80::1%25Eth0]:8080',
      path: '/p',
      params: 'x',
      query: 'q',
      fragment: 'f',
    });
    expect([r.username, r.password, r.hostname, r.port]).toEqual(['Bob', 'pw', 'fe80::1%25Eth0', 8080]);
    expect(r.geturl()).toBe('http://Bob:pw@[FE80::1%25Eth0]:8080/p;x?q#f');
    expect(JSON.stringify(urlsplit('http://h/p;x'))).toBe(
      '{"scheme":"http","netloc":"h","path":"/p;x","query":"","fragment":""}',
    );
  });

  it('reading an invalid port throws NETKIT_INVALID_INPUT; parsing itself does not', () => {
    const big = urlparse('http://h:65536/');
    expect(big.hostname).toBe('h');
    const e1 = thrown(() => big.port);
    expect([e1.code, e1.message]).toEqual(['NETKIT_INVALID_INPUT', 'Port out of range 0-65535']);
    const e2 = thrown(() => urlparse('http://h:8o/').port);
    expect(e2.message).toBe("Port could not be cast to integer value as '8o'");
    expect(urlparse('http://h:/').port).toBeNull();
  });

  it('malformed URLs throw NETKIT_INVALID_INPUT with Python’s ValueError text', () => {
    expect(thrown(() => urlsplit('http://[::1/')).message).toBe('Invalid IPv6 URL');
    expect(thrown(() => urlsplit('http://[1.2.3.4]/')).message).toBe('An IPv4 address cannot be in brackets');
    expect(thrown(() => urljoin('http://a/', '//[x]/')).code).toBe('NETKIT_INVALID_INPUT');
  });
});

describe("where Python's urllib.parse and the WHATWG URL standard disagree, we follow Python", () => {
  const cases: Array<[string, string, Partial<Record<keyof ParseResult, unknown>>, string]> = [
    [
      'no case/port/dot-segment normalisation',
      'HTTP://EXAMPLE.COM:80/a/../b',
      { netloc: 'EXAMPLE.COM:80', path: '/a/../b' },
      'http://example.com/b',
    ],
    [
      'no percent-encoding of spaces or non-ASCII',
      'http://h/a b/ü',
      { path: '/a b/ü' },
      'http://h/a%20b/%C3%BC',
    ],
    [
      ';params are split off the last segment',
      'http://h/a;x/b;y',
      { path: '/a;x/b', params: 'y' },
      'http://h/a;x/b;y',
    ],
    ['relative references parse without a base', '//h/p', { scheme: '', netloc: 'h', path: '/p' }, 'invalid'],
    ['backslashes are ordinary characters', 'http://h\\x/y', { netloc: 'h\\x' }, 'http://h/x/y'],
  ];
  for (const [what, input, python, whatwg] of cases) {
    it(what, () => {
      expect(urlparse(input)).toMatchObject(python);
      let href: string;
      try {
        href = new URL(input).href;
      } catch {
        href = 'invalid';
      }
      expect(href).toBe(whatwg);
    });
  }
});

describe('query strings and quoting', () => {
  it('parseQs has no prototype, so any name is a plain key', () => {
    const r = parseQs('__proto__=1&constructor=2&a=3&a=4');
    expect(Object.getPrototypeOf(r)).toBeNull();
    expect(Object.entries(r)).toEqual([
      ['__proto__', ['1']],
      ['constructor', ['2']],
      ['a', ['3', '4']],
    ]);
    expect(JSON.stringify(r)).toBe('{"__proto__":["1"],"constructor":["2"],"a":["3","4"]}');
  });

  it('parseQsl limits, separators and strict parsing', () => {
    expect(thrown(() => parseQsl('a=1&b=2', { maxNumFields: 1 })).message).toBe(
      'Max number of fields exceeded',
    );
    expect(parseQsl('a=1;b=2', { separator: ';' })).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(thrown(() => parseQsl('a&b=1', { strictParsing: true })).message).toBe("bad query field: 'a'");
    expect(thrown(() => parseQsl('a=%41', { encoding: 'klingon' })).message).toBe(
      'unknown encoding: klingon',
    );
  });

  it('urlencode takes a record or pairs, doseq, safe, and a custom quoteVia', () => {
    expect(urlencode({ q: 'a b', tags: ['x', 'y'] }, { doseq: true })).toBe('q=a+b&tags=x&tags=y');
    expect(urlencode([['path', '/a b']], { safe: '/', quoteVia: 'quote' })).toBe('path=/a%20b');
    expect(urlencode({ k: 'v' }, { quoteVia: (t) => `<${String(t)}>` })).toBe('<k>=<v>');
  });

  it('quote/unquote round-trip any text', () => {
    const text = 'a b/ü?&=#%\u{1F600}';
    expect(unquote(quote(text, ''))).toBe(text);
    expect(urldefrag('http://h/p#x')).toEqual({ url: 'http://h/p', fragment: 'x' });
    expect(urlunparse({ scheme: 'https', netloc: 'h', path: 'x' })).toBe('https://h/x');
  });
});

describe('netkit url', () => {
  it('parse prints an aligned table or JSON; a bad port prints the rest and exits 2', async () => {
    const [table, json, badPort, bad] = await Promise.all([
      netkit(['url', 'parse', 'https://user:pw@[::1]:8443/a;x?q=1#f']),
      netkit(['url', 'parse', '//example.org/x', '--scheme', 'https', '--json']),
      netkit(['url', 'parse', 'http://h:99999/', '--json']),
      netkit(['url', 'parse', 'http://[::1/']),
    ]);
    expect(table.stdout).toBe(
      [
        'scheme    https',
        'netloc    user:pw@[::1]:8443',
        'path      /a',
        'params    x',
        'query     q=1',
        'fragment  f',
        'username  user',
        'password  pw',
        'hostname  ::1',
        'port      8443',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(json.stdout)).toEqual({
      scheme: 'https',
      netloc: 'example.org',
      path: '/x',
      params: '',
      query: '',
      fragment: '',
      username: null,
      password: null,
      hostname: 'example.org',
      port: null,
    });
    expect(badPort.code).toBe(2);
    expect(JSON.parse(badPort.stdout)).toMatchObject({
      hostname: 'h',
      port: null,
      error: 'Port out of range 0-65535',
    });
    expect(badPort.stderr).toBe('netkit: Port out of range 0-65535\n');
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([
      2,
      '',
      'netkit: invalid URL "http://[::1/": Invalid IPv6 URL\n',
    ]);
  });

  it('join, qs, encode, quote, unquote, unparse', async () => {
    const [join, each, qs, qsJson, enc, q, uq, unparse, badPair] = await Promise.all([
      netkit(['url', 'join', 'http://h/docs/', 'guide/', '../api/', 'index.html']),
      netkit(['url', 'join', '--each', 'http://a/b/c/d;p?q', '../g', '//g', 'g:h']),
      netkit(['url', 'qs', 'q=hello+world&tag=a&tag=b&empty=']),
      netkit(['url', 'qs', 'a=1&b=', '--keep-blank', '--json']),
      netkit(['url', 'encode', 'q=hello world', 'lang=en', 'x=a=b']),
      netkit(['url', 'quote', '/a path/ü']),
      netkit(['url', 'unquote', 'a+b%26c', '--plus']),
      netkit(['url', 'unparse'], {
        input: JSON.stringify({ scheme: 'http', netloc: 'h', path: 'p', query: 'q' }),
      }),
      netkit(['url', 'encode', 'novalue']),
    ]);
    expect(join.stdout).toBe('http://h/docs/api/index.html\n');
    expect(each.stdout).toBe('http://a/b/g\nhttp://g\ng:h\n');
    expect(qs.stdout).toBe('q    hello world\ntag  a\ntag  b\n');
    expect(JSON.parse(qsJson.stdout)).toEqual({ a: ['1'], b: [''] });
    expect(enc.stdout).toBe('q=hello+world&lang=en&x=a%3Db\n');
    expect(q.stdout).toBe('/a%20path/%C3%BC\n');
    expect(uq.stdout).toBe('a b&c\n');
    expect(unparse.stdout).toBe('http://h/p?q\n');
    expect([badPair.code, badPair.stderr]).toEqual([2, 'netkit: "novalue" is not name=value\n']);
  });

  it('join names the URL that does not parse, and unparse reports bad JSON on one line with where', async () => {
    const [badBase, badRef, badEach, notJson, trailing] = await Promise.all([
      netkit(['url', 'join', 'http://[::1/a', 'g']),
      netkit(['url', 'join', 'http://h/a/', 'b/', 'http://[x/', 'c']),
      netkit(['url', 'join', '--each', 'http://h/', 'g', '//[v6']),
      netkit(['url', 'unparse'], { input: '{\n  "scheme": http\n}\n' }),
      netkit(['url', 'unparse'], { input: '{"scheme": "http"}\n}\n' }),
    ]);
    expect([badBase.code, badBase.stdout, badBase.stderr]).toEqual([
      2,
      '',
      'netkit: invalid base URL "http://[::1/a": Invalid IPv6 URL\n',
    ]);
    expect(badRef.stderr).toBe('netkit: invalid URL "http://[x/": Invalid IPv6 URL\n');
    expect(badEach.stderr).toBe('netkit: invalid URL "//[v6": Invalid IPv6 URL\n');
    expect([notJson.code, notJson.stderr]).toEqual([2, "netkit: stdin is not JSON: Unexpected token 'h'\n"]);
    expect([trailing.code, trailing.stderr]).toEqual([
      2,
      'netkit: stdin is not JSON: Unexpected non-whitespace character after JSON at line 2, column 1\n',
    ]);
  });
});
