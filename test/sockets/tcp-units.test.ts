/**
 * The pure parts of the ncat-style options: the `-C` LF → CRLF converter (every way of cutting the
 * input into chunks must give the one-shot answer) and the `--allow/--deny` matcher (prefixes,
 * IPv6, IPv4-mapped peers and rules, precedence, bad rules), and the limits `tcp listen` runs with.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { listenLimits } from '../../src/cli/tcp.js';
import { certificateReason } from '../../src/core/errors.js';
import { AccessList, parseAccessRule } from '../../src/sockets/access.js';
import { CrlfEncoder, CrlfTransform, lfToCrlf } from '../../src/sockets/crlf.js';
import { tlsClientError } from '../../src/sockets/tcp-tls.js';

/** The reference: every LF not already preceded by a CR gets one. */
const reference = (s: string) => s.replace(/(?<!\r)\n/g, '\r\n');

describe('LF → CRLF (-C/--crlf)', () => {
  const table: Array<[string, string]> = [
    ['', ''],
    ['no newline', 'no newline'],
    ['a\n', 'a\r\n'],
    ['\n', '\r\n'],
    ['\n\n', '\r\n\r\n'],
    ['a\r\nb\n', 'a\r\nb\r\n'],
    ['already\r\n', 'already\r\n'],
    ['lone CR\rstays', 'lone CR\rstays'],
    ['\r\r\n', '\r\r\n'],
    ['\n\r\n\n', '\r\n\r\n\r\n'],
    ['EHLO me\nMAIL FROM:<a@b>\r\nQUIT\n', 'EHLO me\r\nMAIL FROM:<a@b>\r\nQUIT\r\n'],
  ];
  it.each(table)('one shot: %j', (input, expected) => {
    expect(lfToCrlf(input).toString('latin1')).toBe(expected);
    expect(reference(input)).toBe(expected);
  });

  it('gives the one-shot answer for every cut into two and three chunks', () => {
    const samples = [
      'a\nb\r\nc\n\n\r\r\nd',
      '\r\n\n\r',
      'line one\nline two\r\nline three\n',
      '\n\r\n\r\n\n',
    ];
    for (const s of samples) {
      const want = reference(s);
      for (let i = 0; i <= s.length; i++) {
        for (let j = i; j <= s.length; j++) {
          const enc = new CrlfEncoder();
          const out = [s.slice(0, i), s.slice(i, j), s.slice(j)]
            .map((part) => enc.push(Buffer.from(part, 'latin1')).toString('latin1'))
            .join('');
          expect(out, `${JSON.stringify(s)} cut at ${i},${j}`).toBe(want);
        }
      }
    }
  });

  it('is byte-exact on binary data (NUL, 0xFF, CR at a chunk end) and one byte at a time', () => {
    const bytes = Buffer.from([0, 0xff, 0x0a, 0x0d, 0x0d, 0x0a, 0xfe, 0x0a, 0x0d]);
    const want = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x0d, 0x0d, 0x0a, 0xfe, 0x0d, 0x0a, 0x0d]);
    expect(lfToCrlf(bytes).equals(want)).toBe(true);
    const enc = new CrlfEncoder();
    const parts = [...bytes].map((b) => enc.push(Buffer.from([b])));
    expect(Buffer.concat(parts).equals(want)).toBe(true);
  });

  it('returns the same buffer when there is nothing to convert', () => {
    const b = Buffer.from('x\r\ny');
    expect(new CrlfEncoder().push(b)).toBe(b);
  });

  it('works as a stream', async () => {
    const src = new PassThrough();
    const t = src.pipe(new CrlfTransform());
    const out: Buffer[] = [];
    t.on('data', (d: Buffer) => out.push(d));
    const done = new Promise((r) => t.once('end', r));
    src.write('HELO a\r');
    src.write('\nQUIT\n');
    src.end('\n');
    await done;
    expect(Buffer.concat(out).toString()).toBe('HELO a\r\nQUIT\r\n\r\n');
  });
});

describe('--allow / --deny', () => {
  it('lets everyone in without rules', () => {
    const acl = new AccessList();
    expect(acl.empty).toBe(true);
    expect(acl.check('203.0.113.9')).toEqual({ allowed: true });
  });

  it('denies addresses and prefixes, IPv4 and IPv6', () => {
    const acl = new AccessList([], ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32', '192.168.1.0/255.255.255.0']);
    expect(acl.check('127.0.0.1')).toEqual({ allowed: false, reason: 'denied', rule: '127.0.0.1' });
    expect(acl.check('127.0.0.2')).toEqual({ allowed: true });
    expect(acl.check('10.200.3.4')).toMatchObject({ allowed: false, rule: '10.0.0.0/8' });
    expect(acl.check('11.0.0.1').allowed).toBe(true);
    expect(acl.check('2001:db8:1::5')).toMatchObject({ allowed: false, rule: '2001:db8::/32' });
    expect(acl.check('2001:db9::5').allowed).toBe(true);
    expect(acl.check('192.168.1.77')).toMatchObject({ allowed: false, rule: '192.168.1.0/255.255.255.0' });
  });

  it('treats an IPv4-mapped peer as its IPv4 address, and a mapped rule as an IPv4 one', () => {
    const v4rule = new AccessList([], ['127.0.0.0/8']);
    expect(v4rule.check('::ffff:127.0.0.1')).toMatchObject({ allowed: false, reason: 'denied' });
    expect(v4rule.check('::1').allowed).toBe(true);
    const mappedRule = new AccessList([], ['::ffff:10.0.0.0/104']);
    expect(mappedRule.check('10.9.8.7')).toMatchObject({ allowed: false, reason: 'denied' });
    expect(mappedRule.check('::ffff:10.9.8.7').allowed).toBe(false);
    expect(mappedRule.check('11.9.8.7').allowed).toBe(true);
    const allowV6 = new AccessList(['::1', '::ffff:127.0.0.1']);
    expect(allowV6.check('127.0.0.1').allowed).toBe(true);
    expect(allowV6.check('127.0.0.2')).toEqual({ allowed: false, reason: 'not-allowed' });
  });

  it('with --allow, only those; --deny wins over --allow', () => {
    const acl = new AccessList(['127.0.0.0/8', 'fe80::/10'], ['127.0.0.3']);
    expect(acl.check('127.0.0.2').allowed).toBe(true);
    expect(acl.check('127.0.0.3')).toEqual({ allowed: false, reason: 'denied', rule: '127.0.0.3' });
    expect(acl.check('192.0.2.1')).toEqual({ allowed: false, reason: 'not-allowed' });
    // a link-local peer carries its zone
    expect(acl.check('fe80::1%eth0').allowed).toBe(true);
    // host bits set in a rule are ignored, as in ncat
    expect(new AccessList(['10.1.2.3/8']).check('10.250.0.1').allowed).toBe(true);
  });

  it('refuses malformed rules with NETKIT_INVALID_INPUT', () => {
    for (const bad of ['', 'localhost', '10.0.0.0/33', '::1/129', '10.1', '1.2.3.4/255.0.255.0', '::1/abc']) {
      expect(() => parseAccessRule(bad), bad).toThrow(
        expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }),
      );
    }
    expect(() => new AccessList(['10.0.0.0/8'], ['nope'])).toThrow(/"nope" is not an address/);
  });
});

describe('TLS error wording', () => {
  it('names the verification reason and the way out', () => {
    const self = tlsClientError(
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      '127.0.0.1:443',
    );
    expect(self.message).toBe(
      'TLS certificate of 127.0.0.1:443 not trusted (self-signed certificate); trust it with --ca FILE, or skip verification with --insecure',
    );
    expect(self.code).toBe('NETKIT_CONNECT_FAILED');
    // no other CA makes an expired certificate good: no --ca hint
    const expired = tlsClientError(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }), 'h:1');
    expect(expired.message).toBe(
      'TLS certificate of h:1 not trusted (certificate has expired); skip verification with --insecure',
    );
    const name = tlsClientError(
      Object.assign(new Error('x'), {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        reason: 'Host: b. is not in the cert',
      }),
      'h:1',
    );
    expect(name.message).toBe(
      'TLS certificate of h:1 is for another name (Host: b. is not in the cert); give the name it carries with --servername NAME, or skip verification with --insecure',
    );
    const other = tlsClientError(
      Object.assign(
        new Error('E:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../x.c:350:\n'),
        {
          reason: 'wrong version number',
        },
      ),
      'h:1',
    );
    expect(other.message).toBe(
      'TLS handshake with h:1 failed: wrong version number (does the server speak TLS on this port?)',
    );
    expect(certificateReason('CERT_HAS_EXPIRED')).toBe('certificate has expired');
    expect(certificateReason('SOMETHING_NEW')).toBe('SOMETHING_NEW');
  });
});

describe('tcp listen limits', () => {
  const defaults = { maxConnections: 100, maxPerIp: 10 };
  it('--keep-open closes idle connections after 5 minutes unless -i says otherwise', () => {
    expect(listenLimits({ ...defaults, keepOpen: true })).toEqual({
      maxConnections: 100,
      maxConnectionsPerIp: 10,
      idleTimeoutMs: 300_000,
    });
    expect(listenLimits({ ...defaults, keepOpen: true, idleTimeout: 0 }).idleTimeoutMs).toBe(0);
    expect(listenLimits({ ...defaults, keepOpen: true, idleTimeout: 1500 }).idleTimeoutMs).toBe(1500);
  });
  it('a one-shot listener serves one connection with no idle timeout unless asked, as netcat', () => {
    expect(listenLimits({ ...defaults })).toEqual({
      maxConnections: 1,
      maxConnectionsPerIp: 1,
      idleTimeoutMs: undefined,
    });
    expect(listenLimits({ ...defaults, idleTimeout: 2000 }).idleTimeoutMs).toBe(2000);
  });
});
