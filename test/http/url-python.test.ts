/**
 * Our URL functions against CPython's `urllib.parse`: the whole corpus goes to ONE Python process as
 * JSON, Python prints every result (or its ValueError message) as JSON, and each result must equal
 * ours. Debian's `/usr/bin/python3` (3.11) is the reference; the corpus avoids `rtsps:` URLs, the
 * only place where Debian's 3.11.2 scheme lists differ from the latest 3.11 that we port.
 */
import { describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import {
  parseQs,
  parseQsl,
  quote,
  quotePlus,
  unquote,
  unquotePlus,
  unquoteToBytes,
  urldefrag,
  urlencode,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
} from '../../src/http/url.js';
import { run } from '../helpers/net.js';

const PYTHON = '/usr/bin/python3';

type Json = unknown;
interface Case {
  fn: string;
  args: Json[];
  kwargs?: Record<string, Json>;
  /** compare only that both sides fail, not the message (codec errors) */
  anyError?: boolean;
}

const bytes = (...b: number[]) => ({ $bytes: b });

// ---- the corpus ----

const PARSE_URLS = [
  'http://www.example.com/path;params?q=1#frag',
  'HTTP://User:Pass@WWW.Example.COM:8080/a/b;p?x=1&y=2#F',
  'HtTp://EXAMPLE.com',
  'https://example.com:443/',
  'ftp://ftp.example.com:21/pub;type=i',
  // IPv6 literals
  'http://[::1]:80/',
  'http://[::1]/',
  'HTTP://[::FFFF:1.2.3.4]/',
  'http://[::ffff:192.168.0.1]:8080/x',
  'http://[fe80::1%25eth0]:8080/',
  'http://[fe80::822a:a8ff:fe49:470c%tESt]:1234/keys',
  'http://[::1%eth0]/',
  'http://[::1%]/',
  'http://[::1%a%b]/',
  'http://[v1.fe80::a+en1]/',
  'http://[vG.x]/',
  'http://[v1.]/',
  'http://[1.2.3.4]/',
  'http://[01.2.3.4]/',
  'http://[::192.168.001.1]/',
  'http://[::1/',
  'http://::1]/',
  'http://a[::1]/',
  'http://[::1]x/',
  'http://[::1]:x/',
  'http://[0:0:0:0:0:0:0:0:0]/',
  'http://[1:2:3:4:5:6:7::]/',
  'http://[1:2:3:4:5:6:7:8::]/',
  'http://[:1:2:3:4:5:6:7]/',
  'http://[1:2:3:4:5:6:7:8]/',
  'http://[::1::2]/',
  'http://[12345::]/',
  'http://[::]/',
  'http://[::g]/',
  'http://user:pass@[::1]:8080/',
  'http://[::1]@host/',
  'http://h[ost/',
  // userinfo
  'http://user@host',
  'http://user:@host',
  'http://:pass@host',
  'http://user:pa:ss@host',
  'http://us@er:p@ss@host:81/',
  'http://%41:%42@host/',
  'http://@host/',
  // ports
  'http://host:/',
  'http://host:0/',
  'http://host:080/',
  'http://host:65535',
  'http://host:65536',
  'http://host:99999999999999999999/',
  'http://host:-1',
  'http://host:abc',
  'http://host: 80',
  'http://host:+80',
  'http://host:\u0663',
  'git+ssh://git@github.com:owner/repo.git',
  // percent-encoding and non-ASCII
  'http://host/%7e?%20#%zz',
  'http://host/a%2Fb%3F?x=%26#%23',
  'http://m\u00fcnchen.de/stra\u00dfe?\u00e4=\u00f6#\u00fc',
  'http://ex\u2100ample.com/',
  'http://\uff03evil.com/',
  'http://\ufb01.com/',
  'http://user\uff20evil.com/',
  'http://\u{1F600}.example/\u{1F600}',
  // ;params
  'https://example.com/a;b;c/d;e',
  'https://example.com/a;b',
  'https://example.com/;',
  'http://a/b/c/d;p?q#f',
  'tel:+1-816-555-1212;ext=5',
  'sip:alice@atlanta.com;transport=tcp',
  'mailto:user@example.com;x',
  // schemes without netloc, odd schemes
  'mailto:user@example.com?subject=hi',
  'news:comp.lang.python',
  'urn:isbn:0451450523',
  'data:text/plain;base64,SGVsbG8=',
  'javascript:alert(1)',
  'localhost:8080',
  'path:80',
  '1http://x',
  'a+b-c.d://x/y',
  'a_b://x',
  'http:',
  'http:/',
  'http://',
  'http:///',
  'http:path',
  'file:///etc/passwd',
  'file://localhost/etc/hosts',
  'file:/tmp/x',
  'svn+ssh://svn.example.org/repo',
  'ws://[::1]:9000/chat?x#y',
  // relative references
  '//host/path',
  '//host:8080?q',
  '//user@host',
  '/path/only?q#f',
  'path;p?q',
  '../a/./b/../c',
  '?q=1',
  '#frag',
  '',
  // fragments and queries
  'http://example.com/?q=a#b#c',
  'http://example.com#frag?notquery',
  'http://example.com/p?a?b',
  // whitespace and control characters
  '   http://leading-space.example/',
  '\x00\x01http://c0.example/',
  'http://tab\t.exa\nmple.com/pa\rth',
  'http://example.com/trailing space ',
  '\x7fhttp://del.example/',
  '\u00a0http://nbsp.example/',
];

const RFC_BASE = 'http://a/b/c/d;p?q';
/** RFC 3986 §5.4.1 (normal) and §5.4.2 (abnormal): reference → the RFC's result. */
const RFC_EXAMPLES: Array<[string, string]> = [
  ['g:h', 'g:h'],
  ['g', 'http://a/b/c/g'],
  ['./g', 'http://a/b/c/g'],
  ['g/', 'http://a/b/c/g/'],
  ['/g', 'http://a/g'],
  ['//g', 'http://g'],
  ['?y', 'http://a/b/c/d;p?y'],
  ['g?y', 'http://a/b/c/g?y'],
  ['#s', 'http://a/b/c/d;p?q#s'],
  ['g#s', 'http://a/b/c/g#s'],
  ['g?y#s', 'http://a/b/c/g?y#s'],
  [';x', 'http://a/b/c/;x'],
  ['g;x', 'http://a/b/c/g;x'],
  ['g;x?y#s', 'http://a/b/c/g;x?y#s'],
  ['', 'http://a/b/c/d;p?q'],
  ['.', 'http://a/b/c/'],
  ['./', 'http://a/b/c/'],
  ['..', 'http://a/b/'],
  ['../', 'http://a/b/'],
  ['../g', 'http://a/b/g'],
  ['../..', 'http://a/'],
  ['../../', 'http://a/'],
  ['../../g', 'http://a/g'],
  // abnormal
  ['../../../g', 'http://a/g'],
  ['../../../../g', 'http://a/g'],
  ['/./g', 'http://a/g'],
  ['/../g', 'http://a/g'],
  ['g.', 'http://a/b/c/g.'],
  ['.g', 'http://a/b/c/.g'],
  ['g..', 'http://a/b/c/g..'],
  ['..g', 'http://a/b/c/..g'],
  ['./../g', 'http://a/b/g'],
  ['./g/.', 'http://a/b/c/g/'],
  ['g/./h', 'http://a/b/c/g/h'],
  ['g/../h', 'http://a/b/c/h'],
  ['g;x=1/./y', 'http://a/b/c/g;x=1/y'],
  ['g;x=1/../y', 'http://a/b/c/y'],
  ['g?y/./x', 'http://a/b/c/g?y/./x'],
  ['g?y/../x', 'http://a/b/c/g?y/../x'],
  ['g#s/./x', 'http://a/b/c/g#s/./x'],
  ['g#s/../x', 'http://a/b/c/g#s/../x'],
  ['http:g', 'http:g'],
];
/** Where Python deliberately differs from the RFC's strict answer (the RFC allows it for compatibility). */
const PYTHON_RFC_DIFFERENCES: Record<string, string> = { 'http:g': 'http://a/b/c/g' };

const JOIN_PAIRS: Array<[string, string]> = [
  ['http://example.com/a/b', '//other.com/x'],
  ['http://example.com/a/', '../../../x'],
  ['https://h/a/b/', '.'],
  ['mailto:x@y', 'z'],
  ['http://h/a', 'https://h2/b'],
  ['http://h/a', 'https:b'],
  ['file:///etc/passwd', 'hosts'],
  ['file:///etc/', '../usr/./lib'],
  ['http://h', 'x'],
  ['http://h/a//b/c', '../d'],
  ['http://h/a/b', 'c//d/./e'],
  ['http://h/a/b/', '?'],
  ['http://h/a/b?x', '#'],
  ['http://[::1]:8080/a/b', 'c'],
  ['svn+ssh://h/repo/trunk/', '../branches'],
  ['ws://h/a/b', 'c'],
  ['http://h/a;p/b;q', 'c;r'],
  ['http://h/a;p/b;q', ''],
  ['', 'x'],
  ['http://h/a/b', '   c'],
  ['http://h/a/b', 'c\td'],
  ['tag:x', 'y'],
  ['http://h/a/b/c', '../../../../..'],
  ['http://h/a/b', '.././c'],
  ['HTTP://A/B/c', 'd'],
  ['http://h/%7e/a', 'b%20c'],
  ['http://m\u00fcnchen/\u00e4/', '\u00f6'],
  ['http://h/a/b', '//'],
  ['http://h/a/b', '///x'],
  ['http://u:p@h:1/a/b', '?q'],
  ['//h/a/b', 'c'],
  ['/a/b', 'c'],
  ['a/b', '../../../c'],
  ['http://h/a/b', 'foo:bar'],
  ['http://h/a/', 'HTTP:c'],
  ['https://h/a/b', 'https://h/c'],
];

const QUOTE_CASES: Case[] = [
  { fn: 'quote', args: ['abc def'] },
  { fn: 'quote', args: ['/a b/c'] },
  { fn: 'quote', args: ['a&b=c/d', ''] },
  { fn: 'quote', args: ['\u00fcmlaut'] },
  { fn: 'quote', args: ['~_.-'] },
  { fn: 'quote', args: ["!*'();:@&=+$,/?#[] "] },
  { fn: 'quote', args: [''] },
  { fn: 'quote', args: ['%'] },
  { fn: 'quote', args: ['http://x/?a=1', ':/?='] },
  { fn: 'quote', args: ['\u00fc+\u00e9', '\u00fc+'] },
  { fn: 'quote', args: ['\u{1F600} smile'] },
  { fn: 'quote', args: ['\u00e9'], kwargs: { encoding: 'latin-1' } },
  { fn: 'quote', args: ['\u00e9'], kwargs: { encoding: 'ascii', errors: 'replace' } },
  { fn: 'quote', args: ['\u20ac'], kwargs: { encoding: 'latin-1', errors: 'ignore' } },
  { fn: 'quote', args: ['\u00e9'], kwargs: { encoding: 'ascii' }, anyError: true },
  { fn: 'quote', args: ['a\ud800b'], anyError: true },
  { fn: 'quote', args: ['a\ud800b'], kwargs: { errors: 'replace' } },
  { fn: 'quote', args: [bytes(0, 255, 32, 65)] },
  { fn: 'quote', args: ['\x00\x7f\x80'] },
  { fn: 'quote_plus', args: ['a b+c'] },
  { fn: 'quote_plus', args: ['a b'] },
  { fn: 'quote_plus', args: ['a+b', '+'] },
  { fn: 'quote_plus', args: ['/path with space/'] },
  { fn: 'quote_plus', args: ['/path with space/', '/'] },
  { fn: 'quote_plus', args: [bytes(32, 43, 47)] },
  { fn: 'quote_plus', args: [''] },
];

const UNQUOTE_INPUTS = [
  'abc%20def',
  '%7e',
  '%7E',
  '%',
  '%2',
  '%zz',
  '%%41',
  'a+b',
  '%E2%82%AC',
  '%E2%82',
  '%FF',
  '%C3%28',
  '%ED%A0%80',
  '%F0%9F%98%80',
  '%F4%90%80%80',
  '%C0%AF',
  '%E0%80%AF',
  '%F8%88%80%80%80',
  '%EF%BB%BFbom',
  '\u00fc%20x',
  'x%20\u00fc%41\u00e9%C3%A9',
  '%E2%82\u00fc%AC',
  '',
  'no escapes',
];

const UNQUOTE_CASES: Case[] = [
  ...UNQUOTE_INPUTS.map((s) => ({ fn: 'unquote', args: [s] })),
  ...UNQUOTE_INPUTS.map((s) => ({ fn: 'unquote_plus', args: [s] })),
  { fn: 'unquote_plus', args: ['a+b%2B'] },
  { fn: 'unquote', args: ['%E9t%E9'], kwargs: { encoding: 'latin-1' } },
  { fn: 'unquote', args: ['%FFa%C3'], kwargs: { errors: 'ignore' } },
  { fn: 'unquote', args: ['%FFa'], kwargs: { encoding: 'ascii' } },
  { fn: 'unquote', args: ['%FF'], kwargs: { errors: 'strict' }, anyError: true },
  { fn: 'unquote_to_bytes', args: ['a%00b%ff%zz%'] },
  { fn: 'unquote_to_bytes', args: ['\u00fc%41'] },
];

const QS_INPUTS = [
  'a=1&b=2',
  'a=1&a=2&b=3',
  'a=&b',
  'a=1;b=2',
  '&&a=1&&',
  'a+b=c+d',
  '%zz=1',
  'a=%FF',
  'a==b',
  '=x',
  'x=%26y',
  '__proto__=1&constructor=2&toString=3',
  'b=c&1=a&0=d',
  '\u00fc=\u00f6',
  'a=%E9',
  '',
  '&',
  '=',
  'a',
];
const QS_CASES: Case[] = [
  ...QS_INPUTS.flatMap((q) => [
    { fn: 'parse_qsl', args: [q] },
    { fn: 'parse_qsl', args: [q], kwargs: { keep_blank_values: true } },
    { fn: 'parse_qs', args: [q] },
    { fn: 'parse_qs', args: [q], kwargs: { keep_blank_values: true } },
  ]),
  { fn: 'parse_qsl', args: ['a=1;b=2'], kwargs: { separator: ';' } },
  { fn: 'parse_qsl', args: ['a=1::b=2'], kwargs: { separator: '::' } },
  { fn: 'parse_qsl', args: ['a&b=1'], kwargs: { strict_parsing: true } },
  { fn: 'parse_qsl', args: ['a=1&&b=2'], kwargs: { strict_parsing: true } },
  { fn: 'parse_qsl', args: ["it's"], kwargs: { strict_parsing: true } },
  { fn: 'parse_qsl', args: ['a=1&b='], kwargs: { strict_parsing: true } },
  { fn: 'parse_qsl', args: ['a=1&b=2&c=3'], kwargs: { max_num_fields: 2 } },
  { fn: 'parse_qsl', args: ['a=1&b=2&c=3'], kwargs: { max_num_fields: 3 } },
  { fn: 'parse_qsl', args: [''], kwargs: { max_num_fields: 0 } },
  { fn: 'parse_qsl', args: ['a=1'], kwargs: { separator: '' } },
  { fn: 'parse_qsl', args: ['a=%E9'], kwargs: { encoding: 'latin-1' } },
  { fn: 'parse_qs', args: ['a=%FF&a=%C3%A9'], kwargs: { errors: 'ignore' } },
];

const ENCODE_CASES: Case[] = [
  {
    fn: 'urlencode',
    args: [
      [
        ['a', '1'],
        ['b', 'x y'],
      ],
    ],
  },
  { fn: 'urlencode', args: [{ a: 'b&c', 'k y': '\u00fc/\u20ac' }] },
  { fn: 'urlencode', args: [{ a: ['1', '2'], b: 'x' }], kwargs: { doseq: true } },
  { fn: 'urlencode', args: [{ a: ['1', "it's"] }] },
  { fn: 'urlencode', args: [{ a: [] }], kwargs: { doseq: true } },
  { fn: 'urlencode', args: [{ p: '/a b/' }], kwargs: { quote_via: 'quote' } },
  { fn: 'urlencode', args: [{ p: '/a b/' }], kwargs: { safe: '/' } },
  { fn: 'urlencode', args: [{ p: '/a b/' }], kwargs: { safe: '/', quote_via: 'quote' } },
  { fn: 'urlencode', args: [{ n: 42, f: 2.5, t: true, z: false, nil: null }] },
  { fn: 'urlencode', args: [{ n: [1, true, null, 'x'] }] },
  { fn: 'urlencode', args: [{ n: [1, true, null, 'x'] }], kwargs: { doseq: true } },
  { fn: 'urlencode', args: [[[bytes(0xff, 0x20), bytes(0x61, 0x2b)]]] },
  { fn: 'urlencode', args: [[['k', [bytes(0x61), 'b']]]], kwargs: { doseq: true } },
  { fn: 'urlencode', args: [{ v: '\u00e9' }], kwargs: { encoding: 'latin-1' } },
  { fn: 'urlencode', args: [[]] },
  { fn: 'urlencode', args: [{ '': '' }] },
  {
    fn: 'urlencode',
    args: [
      [
        ['a', '1'],
        ['a', '2'],
      ],
    ],
  },
];

const UNPARSE_CASES: Case[] = [
  { fn: 'urlunparse', args: [['http', 'h', '/p', '', 'q', 'f']] },
  { fn: 'urlunparse', args: [['http', '', 'p', '', '', '']] },
  { fn: 'urlunparse', args: [['mailto', '', 'a@b', '', '', '']] },
  { fn: 'urlunparse', args: [['', '', '//x', '', '', '']] },
  { fn: 'urlunparse', args: [['http', 'h', 'p', '', '', '']] },
  { fn: 'urlunparse', args: [['', 'h', '', '', '', '']] },
  { fn: 'urlunparse', args: [['http', 'h', '/p', 'x', '', '']] },
  { fn: 'urlunparse', args: [['http', 'h', '', 'x', 'q', '']] },
  { fn: 'urlunparse', args: [['', '', '', '', '', '']] },
  { fn: 'urlunparse', args: [['file', '', '/etc/hosts', '', '', '']] },
  { fn: 'urlunparse', args: [['file', '', '//etc/hosts', '', '', '']] },
  { fn: 'urlunsplit', args: [['https', 'u:p@h:8', '/a', 'b=1', 'c']] },
  { fn: 'urlunsplit', args: [['xyz', '', '//a', '', '']] },
  { fn: 'urlunsplit', args: [['', '', 'a:b', '', '']] },
];

const DEFRAG_CASES: Case[] = [
  'http://a/b#c',
  'http://a/b',
  'http://a/b#',
  'http://a/b;p?q#f#g',
  '#x',
  'mailto:a@b#x',
].map((u) => ({ fn: 'urldefrag', args: [u] }));

const CORPUS: Case[] = [
  ...PARSE_URLS.flatMap((u) => [
    { fn: 'urlparse', args: [u] },
    { fn: 'urlsplit', args: [u] },
  ]),
  { fn: 'urlparse', args: ['//h/p;x#f', 'https'] },
  { fn: 'urlparse', args: ['h/p#f', ' ftp\t'] },
  { fn: 'urlsplit', args: ['http://h/p?q#f'], kwargs: { allow_fragments: false } },
  { fn: 'urlparse', args: ['http://h/p;x#f?y'], kwargs: { allow_fragments: false } },
  ...RFC_EXAMPLES.map(([ref]) => ({ fn: 'urljoin', args: [RFC_BASE, ref] })),
  ...JOIN_PAIRS.map(([b, r]) => ({ fn: 'urljoin', args: [b, r] })),
  { fn: 'urljoin', args: ['http://h/a/b', 'c#d'], kwargs: { allow_fragments: false } },
  ...QUOTE_CASES,
  ...UNQUOTE_CASES,
  ...QS_CASES,
  ...ENCODE_CASES,
  ...UNPARSE_CASES,
  ...DEFRAG_CASES,
];

// ---- Python side: one process for the whole corpus ----

const PY_SCRIPT = `
import json, sys
import urllib.parse as up

def dec(v):
    if isinstance(v, dict) and '$bytes' in v:
        return bytes(v['$bytes'])
    if isinstance(v, list):
        return [dec(x) for x in v]
    if isinstance(v, dict):
        return {k: dec(x) for k, x in v.items()}
    return v

def enc(v):
    if isinstance(v, bytes):
        return {'$bytes': list(v)}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    return v

def props(r):
    d = dict(r._asdict())
    for k in ('username', 'password', 'hostname'):
        d[k] = getattr(r, k)
    try:
        d['port'] = r.port
    except ValueError as e:
        d['port'] = {'error': str(e)}
    d['geturl'] = r.geturl()
    return d

def run(c):
    fn, args, kw = c['fn'], dec(c['args']), dec(c.get('kwargs', {}))
    if fn in ('urlparse', 'urlsplit'):
        return props(getattr(up, fn)(*args, **kw))
    if fn == 'urldefrag':
        r = up.urldefrag(*args)
        return {'url': r.url, 'fragment': r.fragment}
    if fn == 'urlencode':
        if kw.get('quote_via') == 'quote':
            kw['quote_via'] = up.quote
        q = args[0]
        if isinstance(q, list):
            q = [tuple(p) for p in q]
        return up.urlencode(q, **kw)
    if fn in ('urlunparse', 'urlunsplit'):
        return getattr(up, fn)(tuple(args[0]))
    return getattr(up, fn)(*args, **kw)

out = []
for c in json.load(sys.stdin):
    try:
        out.append({'ok': enc(run(c))})
    except ValueError as e:
        out.append({'error': str(e)})
print(json.dumps(out))
`;

// ---- our side ----

function decode(v: Json): Json {
  if (v && typeof v === 'object' && !Array.isArray(v) && '$bytes' in (v as object))
    return Uint8Array.from((v as { $bytes: number[] }).$bytes);
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, decode(x)]));
  return v;
}

function props(r: ReturnType<typeof urlparse> | ReturnType<typeof urlsplit>): Record<string, Json> {
  let port: Json;
  try {
    port = r.port;
  } catch (err) {
    port = { error: (err as Error).message };
  }
  return {
    ...r.toJSON(),
    username: r.username,
    password: r.password,
    hostname: r.hostname,
    port,
    geturl: r.geturl(),
  };
}

function qsOptions(kw: Record<string, Json>) {
  return {
    keepBlankValues: kw.keep_blank_values as boolean | undefined,
    strictParsing: kw.strict_parsing as boolean | undefined,
    maxNumFields: kw.max_num_fields as number | undefined,
    separator: kw.separator as string | undefined,
    encoding: kw.encoding as string | undefined,
    errors: kw.errors as string | undefined,
  };
}

function ours(c: Case): Json {
  const a = decode(c.args) as Json[];
  const kw = (c.kwargs ?? {}) as Record<string, Json>;
  const s = (i: number) => a[i] as string;
  switch (c.fn) {
    case 'urlparse':
      return props(urlparse(s(0), (a[1] as string) ?? '', (kw.allow_fragments as boolean) ?? true));
    case 'urlsplit':
      return props(urlsplit(s(0), (a[1] as string) ?? '', (kw.allow_fragments as boolean) ?? true));
    case 'urljoin':
      return urljoin(s(0), s(1), (kw.allow_fragments as boolean) ?? true);
    case 'urldefrag':
      return urldefrag(s(0));
    case 'urlunparse':
      return urlunparse(a[0] as [string, string, string, string, string, string]);
    case 'urlunsplit':
      return urlunsplit(a[0] as [string, string, string, string, string]);
    case 'quote':
      return quote(a[0] as string, (a[1] as string) ?? '/', kw.encoding as string, kw.errors as string);
    case 'quote_plus':
      return quotePlus(a[0] as string, (a[1] as string) ?? '', kw.encoding as string, kw.errors as string);
    case 'unquote':
      return unquote(s(0), kw.encoding as string, kw.errors as string);
    case 'unquote_plus':
      return unquotePlus(s(0), kw.encoding as string, kw.errors as string);
    case 'unquote_to_bytes':
      return { $bytes: [...unquoteToBytes(s(0))] };
    case 'parse_qsl':
      return parseQsl(s(0), qsOptions(kw));
    case 'parse_qs':
      return { ...parseQs(s(0), qsOptions(kw)) };
    case 'urlencode':
      return urlencode(a[0] as never, {
        doseq: kw.doseq as boolean,
        safe: kw.safe as string,
        encoding: kw.encoding as string,
        errors: kw.errors as string,
        quoteVia: kw.quote_via === 'quote' ? 'quote' : undefined,
      });
    default:
      throw new Error(`no such function in the corpus runner: ${c.fn}`);
  }
}

function oursResult(c: Case): { ok: Json } | { error: string } {
  try {
    return { ok: JSON.parse(JSON.stringify(ours(c))) };
  } catch (err) {
    if (!(err instanceof NetkitError)) throw err;
    return { error: err.message };
  }
}

describe("URL functions equal Python's urllib.parse on the whole corpus", async () => {
  const py = await run(PYTHON, ['-c', PY_SCRIPT], { input: JSON.stringify(CORPUS), timeoutMs: 20_000 });
  it('the Python reference ran', () => {
    expect(py.stderr).toBe('');
    expect(py.code).toBe(0);
  });
  const expected = py.code === 0 ? (JSON.parse(py.stdout) as Array<{ ok?: Json; error?: string }>) : [];

  it('covers the corpus', () => {
    expect(expected).toHaveLength(CORPUS.length);
    expect(CORPUS.length).toBeGreaterThan(400);
  });

  CORPUS.forEach((c, i) => {
    const label = `${c.fn}(${JSON.stringify(c.args).slice(1, -1)}${c.kwargs ? `, ${JSON.stringify(c.kwargs)}` : ''})`;
    it(label, () => {
      const want = expected[i];
      const got = oursResult(c);
      if (want && 'error' in want && c.anyError) expect(got).toHaveProperty('error');
      else expect(got).toEqual(want);
    });
  });
});

describe('RFC 3986 §5.4 examples (base http://a/b/c/d;p?q)', () => {
  for (const [ref, rfc] of RFC_EXAMPLES) {
    it(`${JSON.stringify(ref)} → ${PYTHON_RFC_DIFFERENCES[ref] ?? rfc}`, () => {
      expect(urljoin(RFC_BASE, ref)).toBe(PYTHON_RFC_DIFFERENCES[ref] ?? rfc);
    });
  }
});
