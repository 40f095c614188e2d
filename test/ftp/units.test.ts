import { describe, expect, it, vi } from 'vitest';
import { crlfToLf, lfToCrlf } from '../../src/ftp/ascii.js';
import {
  checkActiveTarget,
  formatEpsvReply,
  formatPasvReply,
  parseEprtArgument,
  parsePortArgument,
  parsePortRange,
} from '../../src/ftp/data-address.js';
import {
  type Entry,
  entryFromStats,
  formatFacts,
  formatListLine,
  formatTimeVal,
  lsDate,
  mlstFeature,
  modeString,
  parseMlstOptions,
  parseTimeVal,
  splitListArgs,
} from '../../src/ftp/listing.js';
import { ListingCache } from '../../src/ftp/listing-cache.js';
import { LoginGuard } from '../../src/ftp/login-guard.js';
import {
  COMMAND_PERMISSION,
  DEFAULT_PERMISSIONS,
  overwriteRefusal,
  Permissions,
  permFact,
  refusal,
} from '../../src/ftp/permissions.js';
import { formatReply, parseCommand, quotePath, urgentAbort } from '../../src/ftp/protocol.js';
import { listingBytes, listingChunks } from '../../src/ftp/transfer.js';

describe('permissions', () => {
  it('parses pyftpdlib letters and keeps canonical order', () => {
    expect(new Permissions('wrle').toString()).toBe('elrw');
    expect(new Permissions(DEFAULT_PERMISSIONS.real).toString()).toBe('elradfmwMT');
    expect(new Permissions('').has('r')).toBe(false);
  });

  it.each(['x', 'elrX', 'E', 'r w'])('rejects unknown letters in %j', (letters) => {
    expect(() => new Permissions(letters)).toThrow(/unknown FTP permission/);
  });

  it.each([
    ['CWD', 'e'],
    ['CDUP', 'e'],
    ['LIST', 'l'],
    ['MLSD', 'l'],
    ['NLST', 'l'],
    ['SIZE', 'l'],
    ['RETR', 'r'],
    ['APPE', 'a'],
    ['DELE', 'd'],
    ['RMD', 'd'],
    ['RNFR', 'f'],
    ['RNTO', 'f'],
    ['MKD', 'm'],
    ['STOR', 'w'],
    ['STOU', 'w'],
    ['CHMOD', 'M'],
    ['MFMT', 'T'],
  ])('%s needs %s', (verb, letter) => {
    expect(COMMAND_PERMISSION[verb]).toBe(letter);
  });

  it('default classes: guest cannot delete/rename/mkdir, anonymous reads, incoming writes only', () => {
    const guest = new Permissions(DEFAULT_PERMISSIONS.guest);
    for (const p of ['d', 'f', 'm', 'a'] as const) expect(guest.has(p)).toBe(false);
    for (const p of ['e', 'l', 'r', 'w'] as const) expect(guest.has(p)).toBe(true);
    expect(new Permissions(DEFAULT_PERMISSIONS.anonymous).toString()).toBe('elr');
    const incoming = new Permissions(DEFAULT_PERMISSIONS.incoming);
    expect(incoming.has('w') && !incoming.has('l') && !incoming.has('r')).toBe(true);
  });

  it('chooses 532 for anonymous storing, 550 otherwise, 553 for overwrites', () => {
    expect(refusal('w', 'anonymous', '/pub').code).toBe(532);
    expect(refusal('a', 'anonymous', '/pub').code).toBe(532);
    expect(refusal('d', 'anonymous', '/pub').code).toBe(550);
    expect(refusal('w', 'guest', '/').code).toBe(550);
    expect(refusal('l', 'anonymous', '/incoming').text).toMatch(/cannot list in \/incoming/);
    expect(overwriteRefusal('/x').code).toBe(553);
  });

  it('derives the RFC 3659 perm fact', () => {
    const all = new Permissions('elradfmwMT');
    expect(permFact(all, false)).toBe('adfrw');
    expect(permFact(all, true)).toBe('cdeflmp');
    expect(permFact(all, false, true)).toBe('adfr');
    expect(permFact(new Permissions('elr'), false)).toBe('r');
    expect(permFact(new Permissions('elr'), true)).toBe('el');
    expect(permFact(new Permissions('ew'), true)).toBe('ce');
  });
});

describe('PORT / EPRT / PASV / EPSV', () => {
  it.each([
    ['127,0,0,1,4,1', '127.0.0.1', 1025],
    ['192,168,1,2,195,80', '192.168.1.2', 50000],
    [' 10,0,0,1,255,255 ', '10.0.0.1', 65535],
  ])('PORT %j', (arg, host, port) => {
    expect(parsePortArgument(arg)).toEqual({ ok: true, value: { host, port } });
  });

  it.each([
    '',
    '127,0,0,1,4',
    '127,0,0,1,4,1,9',
    '127,0,0,256,4,1',
    '127,0,0,1,4,-1',
    'a,b,c,d,e,f',
    '127.0.0.1,4,1',
    '127,0,0,1,0,0',
    '1234,0,0,1,4,1',
  ])('PORT rejects %j', (arg) => {
    expect(parsePortArgument(arg).ok).toBe(false);
  });

  it.each([
    ['|1|132.235.1.2|6275|', 1, '132.235.1.2', 6275],
    ['|2|::1|6275|', 2, '::1', 6275],
    ['!1!10.0.0.1!2000!', 1, '10.0.0.1', 2000],
    ['|2|fe80::1|65535|', 2, 'fe80::1', 65535],
  ])('EPRT %j', (arg, family, host, port) => {
    expect(parseEprtArgument(arg)).toEqual({ ok: true, value: { family, host, port } });
  });

  it.each([
    ['|3|1.2.3.4|2000|', /protocol 3/],
    ['|1|::1|2000|', /not an IPv4/],
    ['|2|1.2.3.4|2000|', /not an IPv6/],
    ['|1|1.2.3.4|0|', /out of range/],
    ['|1|1.2.3.4|70000|', /out of range/],
    ['|1|1.2.3.4|port|', /not a port/],
    ['|1|1.2.3.4|2000', /proto\|address\|port/],
    ['1|1.2.3.4|2000|', /delimiter/],
    ['|1|999.1.1.1|2000|', /not an IPv4/],
    ['', /proto\|address\|port/],
  ])('EPRT rejects %j', (arg, why) => {
    const r = parseEprtArgument(arg);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });

  it('bounce check: only the client itself, never a privileged port', () => {
    expect(checkActiveTarget({ host: '127.0.0.1', port: 40000 }, '127.0.0.1')).toBeUndefined();
    expect(checkActiveTarget({ host: '127.0.0.1', port: 40000 }, '::ffff:127.0.0.1')).toBeUndefined();
    expect(checkActiveTarget({ host: '0:0:0:0:0:0:0:1', port: 40000 }, '::1')).toBeUndefined();
    expect(checkActiveTarget({ host: '10.0.0.5', port: 40000 }, '127.0.0.1')).toMatch(
      /only to your own address/,
    );
    expect(checkActiveTarget({ host: '127.0.0.2', port: 40000 }, '127.0.0.1')).toMatch(/only to your own/);
    expect(checkActiveTarget({ host: '127.0.0.1', port: 25 }, '127.0.0.1')).toMatch(/privileged port 25/);
    expect(checkActiveTarget({ host: '127.0.0.1', port: 1023 }, '127.0.0.1')).toMatch(/privileged/);
  });

  it('formats PASV and EPSV replies', () => {
    expect(formatPasvReply('127.0.0.1', 50001)).toBe('Entering Passive Mode (127,0,0,1,195,81).');
    expect(formatEpsvReply(50001)).toBe('Entering Extended Passive Mode (|||50001|)');
  });

  it('parses passive port ranges', () => {
    expect(parsePortRange('50000-50100')).toEqual({ ok: true, value: [50000, 50100] });
    expect(parsePortRange('50000')).toEqual({ ok: true, value: [50000, 50000] });
    for (const bad of ['80-90', '50100-50000', '1-', 'x', '60000-70000'])
      expect(parsePortRange(bad).ok).toBe(false);
  });
});

describe('listing formats', () => {
  const when = new Date(Date.UTC(2024, 2, 5, 14, 30, 9));
  const file: Entry = {
    name: 'report.pdf',
    isDir: false,
    size: 12345,
    mtime: when,
    mode: 0o100644,
    nlink: 1,
    dev: 0xfd00,
    ino: 0x1234,
  };
  const dir: Entry = { ...file, name: 'docs', isDir: true, size: 0, mode: 0o40755, nlink: 2 };
  const now = when.getTime() + 24 * 3600 * 1000;

  it('LIST lines look like ls -l', () => {
    expect(formatListLine(file, now)).toBe(
      '-rw-r--r--   1 ftp      ftp              12345 Mar 05 14:30 report.pdf',
    );
    expect(formatListLine(dir, now)).toBe('drwxr-xr-x   2 ftp      ftp                  0 Mar 05 14:30 docs');
    expect(lsDate(when, when.getTime() + 400 * 24 * 3600 * 1000)).toBe('Mar 05  2024');
    expect(modeString(0o777, false)).toBe('-rwxrwxrwx');
    expect(modeString(0o700, true)).toBe('drwx------');
  });

  it('MLSx facts follow RFC 3659', () => {
    const facts = ['type', 'size', 'modify', 'perm', 'unique'];
    expect(formatFacts(file, facts, 'adfrw')).toBe(
      'type=file;size=12345;modify=20240305143009;perm=adfrw;unique=fd00g1234; report.pdf',
    );
    expect(formatFacts(dir, facts, 'el')).toBe(
      'type=dir;modify=20240305143009;perm=el;unique=fd00g1234; docs',
    );
    expect(formatFacts(file, ['size'], 'r', '/pub/report.pdf')).toBe('size=12345; /pub/report.pdf');
    expect(formatFacts(file, ['unix.mode'], '')).toBe('unix.mode=0644; report.pdf');
    expect(formatFacts(dir, ['type'], '', '.', 'cdir')).toBe('type=cdir; .');
    expect(formatFacts(file, [], 'r', 'naïve 日本.txt')).toBe(' naïve 日本.txt');
  });

  it('OPTS MLST and FEAT', () => {
    expect(parseMlstOptions('Type;SIZE;bogus;modify;')).toEqual(['type', 'size', 'modify']);
    expect(parseMlstOptions('')).toEqual([]);
    expect(mlstFeature(['type', 'size'])).toBe('MLST type*;size*;modify;perm;unique;unix.mode;');
  });

  it('time-val formatting and parsing', () => {
    expect(formatTimeVal(when)).toBe('20240305143009');
    expect(parseTimeVal('20240305143009')?.getTime()).toBe(when.getTime());
    expect(parseTimeVal('20240305143009.5')?.getTime()).toBe(when.getTime() + 500);
    for (const bad of ['2024030514300', '20241305143009', '20240230120000', 'x', '20240305246009']) {
      expect(parseTimeVal(bad)).toBeUndefined();
    }
  });

  it('LIST options are split from the path', () => {
    expect(splitListArgs('-la')).toEqual({ options: '-la', path: '' });
    expect(splitListArgs('-a -l /pub')).toEqual({ options: '-a -l', path: '/pub' });
    expect(splitListArgs('dir name')).toEqual({ options: '', path: 'dir name' });
    expect(splitListArgs('')).toEqual({ options: '', path: '' });
    // a name may start or end with spaces; only a blank argument is the working directory
    expect(splitListArgs(' lead dir')).toEqual({ options: '', path: ' lead dir' });
    expect(splitListArgs('-l trail ')).toEqual({ options: '-l', path: 'trail ' });
    expect(splitListArgs('  ')).toEqual({ options: '', path: '' });
  });

  it('entries from stats', async () => {
    const { stat } = await import('node:fs/promises');
    const e = entryFromStats('x', await stat('.'));
    expect(e.isDir).toBe(true);
    expect(e.size).toBe(0);
  });
});

describe('control syntax', () => {
  it.each([
    ['USER bob', 'USER', 'bob'],
    ['user bob', 'USER', 'bob'],
    ['NOOP', 'NOOP', ''],
    ['STOR  two spaces.txt', 'STOR', ' two spaces.txt'],
    ['\ufffd\ufffdABOR', 'ABOR', ''],
    ['\u00ff\u00f4\u00ff\u00f2ABOR', 'ABOR', ''],
    ['RETR a file with trailing space ', 'RETR', 'a file with trailing space '],
    ['GARBAGE!!', '', 'GARBAGE!!'],
    ['', '', ''],
    ['X', '', 'X'],
    ['TOOLONGVERB x', '', 'TOOLONGVERB x'],
  ])('parseCommand(%j)', (line, verb, arg) => {
    expect(parseCommand(line)).toEqual({ verb, arg });
  });

  it('formats single and multi-line replies, neutralising CR/LF', () => {
    expect(formatReply(200, 'ok')).toEqual(['200 ok']);
    expect(formatReply(211, ['Features:', ' SIZE', 'MDTM', 'End'])).toEqual([
      '211-Features:',
      ' SIZE',
      ' MDTM',
      '211 End',
    ]);
    expect(formatReply(550, 'bad\r\n226 injected')).toEqual(['550 bad  226 injected']);
    expect(quotePath('/a "quoted" dir')).toBe('"/a ""quoted"" dir"');
  });

  it.each([
    ['ABOR', 'ABOR'],
    ['abor', 'abor'],
    ['\xff\xf4\xff\xf2ABOR', 'ABOR'],
    ['\xff\xf4\xffAbOr', 'AbOr'],
    ['ABORT', undefined],
    ['NOOP', undefined],
    ['x ABOR', undefined],
    ['', undefined],
  ])('urgentAbort(%j) → %j', (head, line) => {
    expect(urgentAbort(Buffer.from(head, 'latin1'))?.toString('latin1')).toBe(line);
  });
});

describe('ASCII conversion', () => {
  const down = (chunks: string[]) => {
    let prev = false;
    return chunks
      .map((c) => {
        const r = lfToCrlf(Buffer.from(c), prev);
        prev = r.endsWithCR;
        return r.out.toString();
      })
      .join('');
  };
  const up = (chunks: string[]) => {
    let pending = false;
    let out = chunks
      .map((c) => {
        const r = crlfToLf(Buffer.from(c), pending);
        pending = r.pendingCR;
        return r.out.toString();
      })
      .join('');
    if (pending) out += '\r';
    return out;
  };

  it.each([
    [['a\nb\n'], 'a\r\nb\r\n'],
    [['a\r\nb'], 'a\r\nb'],
    [['a\r', '\nb\n'], 'a\r\nb\r\n'],
    [['\n\n'], '\r\n\r\n'],
    [['no newline'], 'no newline'],
    [[''], ''],
  ])('LF→CRLF %j', (chunks, expected) => {
    expect(down(chunks)).toBe(expected);
  });

  it.each([
    [['a\r\nb\r\n'], 'a\nb\n'],
    [['a\r', '\nb'], 'a\nb'],
    [['a\r', 'b'], 'a\rb'],
    [['a\r'], 'a\r'],
    [['lone\rcr\n'], 'lone\rcr\n'],
    [['\r\n\r\n'], '\n\n'],
    [['x\r', '', '\n'], 'x\n'],
  ])('CRLF→LF %j', (chunks, expected) => {
    expect(up(chunks)).toBe(expected);
  });
});

describe('LoginGuard', () => {
  it('locks an IP after N failures within the window, and unlocks later', () => {
    const g = new LoginGuard({ maxFailures: 3, lockoutMs: 1000, windowMs: 10_000 });
    const t = 1_000_000;
    expect(g.recordFailure('1.1.1.1', t)).toBe(false);
    expect(g.recordFailure('1.1.1.1', t + 1)).toBe(false);
    expect(g.lockedFor('1.1.1.1', t + 2)).toBe(0);
    expect(g.recordFailure('1.1.1.1', t + 2)).toBe(true);
    expect(g.lockedFor('1.1.1.1', t + 3)).toBe(999);
    expect(g.lockedFor('2.2.2.2', t + 3)).toBe(0);
    expect(g.lockedFor('1.1.1.1', t + 2000)).toBe(0);
  });

  it('forgets failures outside the window and after a success', () => {
    const g = new LoginGuard({ maxFailures: 2, windowMs: 100 });
    expect(g.recordFailure('ip', 0)).toBe(false);
    expect(g.recordFailure('ip', 500)).toBe(false);
    g.recordSuccess('ip');
    expect(g.recordFailure('ip', 501)).toBe(false);
  });

  it('bounds the number of tracked IPs', () => {
    const g = new LoginGuard({ maxFailures: 2, maxTracked: 2 });
    g.recordFailure('a', 0);
    g.recordFailure('b', 0);
    g.recordFailure('c', 0);
    expect(g.recordFailure('a', 1)).toBe(false);
  });
});

describe('ListingCache', () => {
  it('shares one build between concurrent requests and reuses it while fresh', async () => {
    const cache = new ListingCache(10_000);
    let builds = 0;
    const build = async () => {
      builds += 1;
      return [`build ${builds}`];
    };
    const [a, b] = await Promise.all([cache.get('/d', 'list', 1, build), cache.get('/d', 'list', 1, build)]);
    expect(a).toEqual(['build 1']);
    expect(b).toBe(a);
    expect(await cache.get('/d', 'list', 1, build)).toEqual(['build 1']);
    expect(await cache.get('/d', 'nlst', 1, build)).toEqual(['build 2']);
  });

  it('rebuilds when the directory mtime changes, after invalidate(), and when off', async () => {
    const cache = new ListingCache(10_000);
    let n = 0;
    const build = async () => [String(++n)];
    expect(await cache.get('/d', 'list', 1, build)).toEqual(['1']);
    expect(await cache.get('/d', 'list', 2, build)).toEqual(['2']);
    cache.invalidate('/d');
    expect(await cache.get('/d', 'list', 2, build)).toEqual(['3']);
    const off = new ListingCache(0);
    expect(await off.get('/d', 'list', 2, build)).toEqual(['4']);
    expect(await off.get('/d', 'list', 2, build)).toEqual(['5']);
  });

  it('expires entries after the TTL and forgets failed builds', async () => {
    let clock = 1000;
    const cache = new ListingCache(500, 256, () => clock);
    let n = 0;
    const build = async () => [String(++n)];
    expect(await cache.get('/d', 'list', 1, build)).toEqual(['1']);
    clock += 499;
    expect(await cache.get('/d', 'list', 1, build)).toEqual(['1']);
    clock += 1;
    expect(await cache.get('/d', 'list', 1, build)).toEqual(['2']);
    const failing = new ListingCache(10_000);
    await expect(failing.get('/e', 'list', 1, () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await failing.get('/e', 'list', 1, build)).toEqual(['3']);
  });

  it('lets a listing go once its TTL has passed, not when 256 other directories push it out', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const cache = new ListingCache(500, 256, () => 1000); // its own clock never moves: only the timer can drop it
      let n = 0;
      const build = async () => [String(++n)];
      expect(await cache.get('/d', 'list', 1, build)).toEqual(['1']);
      expect(await cache.get('/d', 'list', 1, build)).toEqual(['1']);
      vi.advanceTimersByTime(500);
      expect(await cache.get('/d', 'list', 1, build)).toEqual(['2']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('listing pieces', () => {
  const lines = Array.from({ length: 1000 }, (_, i) => `name-${i}-ünïcode-${'y'.repeat(i % 50)}`);
  it('are CRLF-terminated UTF-8 lines that add up to the whole listing, each about the piece size', () => {
    const pieces = [...listingChunks(lines, 4096)];
    const whole = Buffer.concat(pieces);
    expect(whole.toString('utf8')).toBe(`${lines.join('\r\n')}\r\n`);
    expect(whole.length).toBe(listingBytes(lines));
    expect(pieces.length).toBeGreaterThan(10);
    for (const p of pieces.slice(0, -1)) expect(p.length).toBeLessThan(4096 * 1.2); // counted in UTF-16 units, sent as UTF-8
  });
  it('an empty listing is no bytes at all', () => {
    expect([...listingChunks([])]).toEqual([]);
    expect(listingBytes([])).toBe(0);
  });
});
