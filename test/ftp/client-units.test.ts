/**
 * Table tests for the FTP client's pure parts: URL parsing, name sanitising, mirror planning, the
 * closing reply of a listing.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatListing } from '../../src/cli/ftp-client.js';
import { NetkitError } from '../../src/core/errors.js';
import { type FtpEntry, finalReply } from '../../src/ftp/client.js';
import {
  type FtpUrl,
  formatFtpUrl,
  joinRemote,
  parseFtpUrl,
  percentDecode,
  remoteBasename,
  remoteDirname,
} from '../../src/ftp/ftp-url.js';
import { type MirrorAction, planMirror, summarisePlan, type TreeEntry } from '../../src/ftp/mirror.js';
import { displayName, safeLocalPath, unsafeNameReason } from '../../src/ftp/safe-name.js';

describe('parseFtpUrl', () => {
  const ok: Array<[string, Partial<FtpUrl>]> = [
    ['ftp://host', { scheme: 'ftp', host: 'host', port: 21, path: '', isDirectory: true }],
    ['ftp://host/', { host: 'host', path: '', isDirectory: true }],
    [
      'FTP://Host.example.org:2021/pub/',
      { scheme: 'ftp', host: 'Host.example.org', port: 2021, path: 'pub/', isDirectory: true },
    ],
    [
      'ftp://127.0.0.1:2021/dir/file.txt',
      { host: '127.0.0.1', port: 2021, path: 'dir/file.txt', isDirectory: false },
    ],
    ['ftp://alice@h/f', { user: 'alice', path: 'f' }],
    ['ftp://alice:s3cret@h:21/f', { user: 'alice', password: 's3cret', port: 21 }],
    ['ftp://alice:p%40ss%3Aw%2Fd@h/f', { user: 'alice', password: 'p@ss:w/d' }],
    ['ftp://alice:p@ss@h/f', { user: 'alice', password: 'p@ss', host: 'h' }],
    ['ftp://al%20ice:@h/', { user: 'al ice', password: '' }],
    ['ftp://h/%2Fetc/motd', { path: '/etc/motd', isDirectory: false }],
    ['ftp://h/a%20b/na%C3%AFve%20%E6%97%A5.txt', { path: 'a b/naïve 日.txt' }],
    ['ftp://h/a#b?c', { path: 'a#b?c' }],
    ['ftp://[::1]:2021/x', { host: '::1', port: 2021, path: 'x' }],
    ['ftp://[2001:db8::1]/', { host: '2001:db8::1', port: 21 }],
    // an IPv6 zone: `%25` in a URL (RFC 6874, as curl reads it), or bare
    ['ftp://[fe80::1%25eth0]:2021/', { host: 'fe80::1%eth0', port: 2021 }],
    ['ftp://[fe80::1%eth0]/', { host: 'fe80::1%eth0' }],
    ['ftps://h/', { scheme: 'ftps', port: 990 }],
    ['ftps://h:9990/', { scheme: 'ftps', port: 9990 }],
    // a '%' that starts no escape is literal in the path, as in curl and lftp
    ['ftp://h/100%.txt', { path: '100%.txt' }],
    ['ftp://h/a%zz', { path: 'a%zz' }],
    ['ftp://h/a%2', { path: 'a%2' }],
    ['ftp://h/50%25%/x%41', { path: '50%%/xA' }],
    // RFC 1738 typecodes
    ['ftp://h/mid.bin;type=i', { path: 'mid.bin', typecode: 'i', isDirectory: false }],
    ['ftp://h/notes.txt;TYPE=A', { path: 'notes.txt', typecode: 'a' }],
    ['ftp://h/pub;type=d', { path: 'pub', typecode: 'd', isDirectory: true }],
    ['ftp://h/x;type=z', { path: 'x;type=z' }],
  ];
  it.each(ok)('%s', (url, want) => {
    expect(parseFtpUrl(url)).toMatchObject(want);
  });

  it('leaves user and password undefined when absent (anonymous)', () => {
    const u = parseFtpUrl('ftp://h/f');
    expect(u.user).toBeUndefined();
    expect(u.password).toBeUndefined();
  });

  const bad: Array<[string, RegExp]> = [
    ['http://h/', /ftp:\/\//],
    ['h/file', /ftp:\/\//],
    ['ftp://', /no host/],
    ['ftp:///file', /no host/],
    ['ftp://h:0/', /not a port/],
    ['ftp://h:65536/', /not a port/],
    ['ftp://h:21x/', /not a port/],
    ['ftp://h%zz/', /not a host/],
    ['ftp://u%zz:p@h/', /percent/],
    ['ftp://h/%ff%fe', /UTF-8/],
    ['ftp://h/a%0d%0aDELE%20x', /CR, LF or NUL/],
    ['ftp://h/a%00b', /CR, LF or NUL/],
    ['ftp://u%0aX:p@h/', /CR, LF or NUL/],
    ['ftp://u:p%0d@h/', /CR, LF or NUL/],
    // raw, not percent-encoded: the reason is the same, and the URL in the message is escaped
    ['ftp://h/pub\r\nDELE x', /^bad FTP URL "ftp:\/\/h\/pub\\x0d\\x0aDELE x": path contains CR, LF or NUL$/],
    ['ftp://:pw@h/', /empty user/],
    ['ftp://[::1/', /IPv6/],
    ['ftp://ho st/', /not a host/],
  ];
  it.each(bad)('rejects %s', (url, why) => {
    let err: unknown;
    try {
      parseFtpUrl(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetkitError);
    expect((err as NetkitError).code).toBe('NETKIT_INVALID_INPUT');
    expect((err as Error).message).toMatch(why);
  });

  it('never echoes the password in an error', () => {
    expect(() => parseFtpUrl('ftp://bob:topsecret@h:99999/')).toThrow(/bob:\*\*\*\*@/);
    expect(() => parseFtpUrl('ftp://bob:topsecret@h:99999/')).not.toThrow(/topsecret/);
  });

  it('formats back with the password hidden and absolute paths as %2F', () => {
    expect(formatFtpUrl(parseFtpUrl('ftp://bob:pw@h:2121/a b/c'))).toBe('ftp://bob:****@h:2121/a%20b/c');
    expect(formatFtpUrl(parseFtpUrl('ftp://h/%2Fetc/motd'))).toBe('ftp://h/%2Fetc/motd');
    expect(formatFtpUrl(parseFtpUrl('ftps://[::1]/x'))).toBe('ftps://[::1]/x');
    expect(formatFtpUrl(parseFtpUrl('ftp://[fe80::1%25eth0]/x'))).toBe('ftp://[fe80::1%25eth0]/x');
    expect(parseFtpUrl(formatFtpUrl(parseFtpUrl('ftp://h/na%C3%AFve/%23x')))).toMatchObject({
      path: 'naïve/#x',
    });
  });

  it('percentDecode is strict', () => {
    expect(percentDecode('a%20b')).toBe('a b');
    expect(percentDecode('plain')).toBe('plain');
    expect(() => percentDecode('%')).toThrow();
  });

  it.each([
    ['', 'f', 'f'],
    ['d', 'f', 'd/f'],
    ['d/', 'f', 'd/f'],
    ['/', 'f', '/f'],
  ])('joinRemote(%j, %j) = %j', (d, n, want) => expect(joinRemote(d, n)).toBe(want));

  it.each([
    ['a/b/c.txt', 'c.txt', 'a/b'],
    ['c.txt', 'c.txt', ''],
    ['/c.txt', 'c.txt', '/'],
    ['a/', '', 'a'],
  ])('basename/dirname of %j', (p, base, dir) => {
    expect(remoteBasename(p)).toBe(base);
    expect(remoteDirname(p)).toBe(dir);
  });
});

describe('safe names', () => {
  const unsafe: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.', /directory reference/],
    ['..', /directory reference/],
    ['../../evil', /"\/"/],
    ['/etc/x', /"\/"/],
    ['a/b', /"\/"/],
    ['a\\b', /"\\"/],
    ['..\\..\\evil', /"\\"/],
    ['nul\u0000byte', /control/],
    ['esc\u001b[31mred', /control/],
    ['tab\there', /control/],
    ['cr\rlf\n', /control/],
    ['del\u007f', /control/],
    ['c1\u009b', /control/],
    ['C:evil', /drive/],
    ['x'.repeat(256), /longer/],
    ['é'.repeat(128), /longer/],
  ];
  it.each(unsafe)('rejects %j', (name, why) => {
    expect(unsafeNameReason(name)).toMatch(why);
  });

  it.each(['file.txt', '...', '.hidden', 'naïve 日本.txt', 'a b', '-rf', 'x'.repeat(255), 'ab:c', '~'])(
    'accepts %j',
    (name) => expect(unsafeNameReason(name)).toBeUndefined(),
  );

  it('safeLocalPath stays inside the root', () => {
    const root = path.resolve('/tmp/target');
    expect(safeLocalPath(root, ['a', 'b.txt'])).toBe(path.join(root, 'a', 'b.txt'));
    for (const segs of [['..', 'x'], ['a', '../../x'], ['/etc/passwd'], ['a\\..\\..\\x'], ['ok', '']]) {
      expect(() => safeLocalPath(root, segs)).toThrow(
        expect.objectContaining({ code: 'NETKIT_PATH_OUTSIDE_ROOT' }) as unknown as Error,
      );
    }
  });

  it('displayName escapes control characters and leaves clean names alone', () => {
    expect(displayName('plain name.txt')).toBe('plain name.txt');
    expect(displayName('esc\u001b[2Jx')).toBe('"esc\\x1b[2Jx"');
    expect(displayName('a\nb')).toBe('"a\\x0ab"');
    expect(displayName('c1\u009b')).toBe('"c1\\x9b"');
    // bidi and zero-width characters too: `evil\u202egpj.exe` must not display as `evilexe.jpg`
    expect(displayName('evil\u202egpj.exe')).toBe('"evil\\u202egpj.exe"');
    expect(displayName('a\u200bb')).toBe('"a\\u200bb"');
    expect(displayName('Grüße.txt')).toBe('Grüße.txt');
  });
});

describe('planMirror', () => {
  const T = 1_700_000_000_000;
  const file = (size: number, mtime?: number): TreeEntry =>
    mtime === undefined ? { type: 'file', size } : { type: 'file', size, mtime };
  const dir = (): TreeEntry => ({ type: 'dir', size: 0 });
  const link = (): TreeEntry => ({ type: 'link', size: 0 });
  const tree = (o: Record<string, TreeEntry>) => new Map(Object.entries(o));
  const brief = (acts: MirrorAction[]) =>
    acts.map((a) =>
      a.kind === 'transfer'
        ? `get ${a.path} ${a.reason}`
        : a.kind === 'delete'
          ? `rm ${a.path}`
          : a.kind === 'mkdir'
            ? `mkdir ${a.path}`
            : `skip ${a.path}`,
    );

  const cases: Array<
    [
      string,
      Record<string, TreeEntry>,
      Record<string, TreeEntry>,
      { onlyNewer?: boolean; delete?: boolean },
      string[],
      number,
    ]
  > = [
    ['empty to empty', {}, {}, {}, [], 0],
    [
      'fresh tree: dirs first, parents before children',
      { 'a/b': dir(), a: dir(), 'a/b/f': file(3, T), 'a/g': file(1, T), top: file(2, T) },
      {},
      {},
      ['mkdir a', 'mkdir a/b', 'get a/b/f new', 'get a/g new', 'get top new'],
      0,
    ],
    ['identical size and time: up to date', { f: file(5, T) }, { f: file(5, T) }, {}, [], 1],
    ['same second, different ms: up to date', { f: file(5, T + 400) }, { f: file(5, T + 900) }, {}, [], 1],
    ['size differs: changed', { f: file(5, T) }, { f: file(4, T + 99_000) }, {}, ['get f changed'], 0],
    ['source newer, same size: newer', { f: file(5, T + 2000) }, { f: file(5, T) }, {}, ['get f newer'], 0],
    ['target newer, same size: up to date', { f: file(5, T) }, { f: file(5, T + 2000) }, {}, [], 1],
    [
      'only-newer: source newer',
      { f: file(5, T + 2000) },
      { f: file(9, T) },
      { onlyNewer: true },
      ['get f newer'],
      0,
    ],
    [
      'only-newer: target newer and different: skipped',
      { f: file(5, T) },
      { f: file(9, T + 2000) },
      { onlyNewer: true },
      ['skip f'],
      0,
    ],
    [
      'only-newer: same time, different size: changed',
      { f: file(5, T) },
      { f: file(9, T) },
      { onlyNewer: true },
      ['get f changed'],
      0,
    ],
    [
      'only-newer: no times, sizes differ',
      { f: file(5) },
      { f: file(9, T) },
      { onlyNewer: true },
      ['get f changed'],
      0,
    ],
    ['only-newer: no times, same size', { f: file(5) }, { f: file(5) }, { onlyNewer: true }, [], 1],
    [
      'extra target files kept without delete',
      { f: file(1, T) },
      { f: file(1, T), old: file(1, T), 'od/x': file(1, T), od: dir() },
      {},
      [],
      1,
    ],
    [
      'delete: extras removed deepest first, after transfers',
      { n: file(1, T) },
      { od: dir(), 'od/sub': dir(), 'od/sub/x': file(1, T), 'od/y': file(1, T), z: file(1, T) },
      { delete: true },
      ['get n new', 'rm od/sub/x', 'rm od/sub', 'rm od/y', 'rm od', 'rm z'],
      0,
    ],
    [
      'clash without delete: skipped, subtree untouched',
      { x: dir(), 'x/f': file(1, T), y: file(1, T) },
      { x: file(3, T), y: dir(), 'y/k': file(1, T) },
      {},
      ['skip x', 'skip y'],
      0,
    ],
    [
      'clash with delete: target cleared first',
      { x: dir(), 'x/f': file(1, T), y: file(1, T) },
      { x: file(3, T), y: dir(), 'y/k': file(1, T) },
      { delete: true },
      ['rm x', 'rm y/k', 'rm y', 'mkdir x', 'get x/f new', 'get y new'],
      0,
    ],
    [
      'source links and specials are skipped; target under them left alone even with delete',
      { l: link(), s: { type: 'other', size: 0 }, f: file(1, T) },
      { l: dir(), 'l/keep': file(1, T), s: file(1, T) },
      { delete: true },
      ['skip l', 'skip s', 'get f new'],
      0,
    ],
    [
      'target link replaced only with delete',
      { f: file(1, T) },
      { f: link() },
      { delete: true },
      ['rm f', 'get f new'],
      0,
    ],
    ['target link kept without delete', { f: file(1, T) }, { f: link() }, {}, ['skip f'], 0],
  ];
  it.each(cases)('%s', (_name, src, dst, opts, want, upToDate) => {
    const plan = planMirror(tree(src), tree(dst), opts);
    expect(brief(plan.actions)).toEqual(want);
    expect(plan.upToDate).toBe(upToDate);
  });

  it('is pure and sums what it plans', () => {
    const src = tree({ a: file(10, T), b: file(20, T), d: dir() });
    const dst = tree({ a: file(1, T), gone: file(1, T) });
    const p1 = planMirror(src, dst, { delete: true });
    expect(planMirror(src, dst, { delete: true })).toEqual(p1);
    expect(summarisePlan(p1)).toEqual({
      transfers: 2,
      bytes: 30,
      mkdirs: 1,
      deletes: 1,
      skips: 0,
      upToDate: 0,
    });
    const t = p1.actions.find((a) => a.kind === 'transfer' && a.path === 'a');
    expect(t).toMatchObject({ size: 10, mtime: T, reason: 'changed' });
  });
});

describe('finalReply: the reply that closes a listing, from one chunk of control text', () => {
  const cases: Array<[string, string]> = [
    ['226 Transfer complete\r\n', '226 Transfer complete'],
    // pure-ftpd: a multi-line closing reply
    [
      '226-Options: -a -l\r\n226 Output truncated to 10000 matches\r\n',
      '226-Options: -a -l 226 Output truncated to 10000 matches',
    ],
    // the 150 and the 226 in one chunk: only the 226 counts
    [
      '150 Accepted data connection\r\n226 Output truncated to 5 matches\r\n',
      '226 Output truncated to 5 matches',
    ],
    ['150-Accepted\r\n150 1.0 kbytes\r\n226-Done\r\n 2 files\r\n226 End\r\n', '226-Done 2 files 226 End'],
    ['226\r\n', '226'],
    ['', ''],
    ['no reply code at all', 'no reply code at all'],
  ];
  it.each(cases)('%j -> %j', (chunk, want) => {
    expect(finalReply(chunk)).toBe(want);
  });
});

describe('formatListing', () => {
  it('prints a directory of 200,000 entries (a size column as wide as the largest)', () => {
    const entries: FtpEntry[] = Array.from({ length: 200_000 }, (_, i) => ({
      name: `f${i}`,
      type: 'file' as const,
      size: i,
    }));
    const long = formatListing(entries, true);
    expect(long).toHaveLength(200_000);
    expect(long[0]).toMatch(/^\S*\s+0\s/);
    expect(formatListing(entries, false)[1]).toBe('f1');
  });
});
