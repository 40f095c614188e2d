/**
 * Failures at run time are one plain line on stderr (exit 1), in words rather than system codes;
 * `--debug` adds the stack trace for a bug report.
 */
import { describe, expect, it } from 'vitest';
import { smtpAddress } from '../../src/cli/mail-send.js';
import { pop3Address } from '../../src/cli/pop3-client.js';
import { errorMessage } from '../../src/core/errors.js';
import { httpError } from '../../src/http/http-error.js';
import { createSmtpServer } from '../../src/mail/smtp-server.js';
import { netkit, tempDir } from '../helpers/net.js';
import { freePort } from '../sockets/peers.js';

describe('runtime errors', () => {
  it('an address that is not on this machine, an unknown host, a refused connection', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never a local address
    const notHere = await netkit(['udp', 'listen', '0', '--host', '192.0.2.1']);
    expect([notHere.code, notHere.stderr]).toEqual([
      1,
      'netkit: cannot listen on 192.0.2.1: the address is not on this machine\n',
    ]);
    const tcpNotHere = await netkit(['tcp', 'listen', '0', '--host', '192.0.2.1']);
    expect(tcpNotHere.stderr).toBe(
      'netkit: cannot listen on 192.0.2.1: the address is not on this machine\n',
    );
    const unknown = await netkit(['tcp', 'listen', '0', '--host', 'nosuch.invalid']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'netkit: cannot resolve host "nosuch.invalid"\n']);
    const closed = await freePort();
    const refused = await netkit(['chat', 'join', `127.0.0.1:${closed}`]);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `netkit: connection refused by 127.0.0.1:${closed}\n`,
    ]);
    // the mail clients in the same words, never Node's ("connect ECONNREFUSED …", "getaddrinfo ENOTFOUND …")
    const send = ['mail', 'send', '--to', 'bob@lab', '--text', 'x', '--server'];
    const mailRefused = await netkit([...send, `127.0.0.1:${closed}`]);
    expect([mailRefused.code, mailRefused.stderr]).toEqual([
      1,
      `netkit: connection refused by 127.0.0.1:${closed}\n`,
    ]);
    const mailUnknown = await netkit([...send, 'nosuch.invalid:2525']);
    expect([mailUnknown.code, mailUnknown.stderr]).toEqual([
      1,
      'netkit: cannot resolve host "nosuch.invalid"\n',
    ]);
    const pop3Refused = await netkit(['pop3', 'list', '--server', `127.0.0.1:${closed}`, '--user', 'bob'], {
      env: { NETKIT_PASSWORD: 'x' },
    });
    expect([pop3Refused.code, pop3Refused.stderr]).toEqual([
      1,
      `netkit: connection refused by 127.0.0.1:${closed}\n`,
    ]);
  });

  it('over IPv6 the server is named [ADDRESS]:PORT, and a port glued to an IPv6 address is a usage error', async () => {
    const closed = await freePort('::1');
    const env = { NETKIT_PASSWORD: 'x' };
    const refused = await Promise.all([
      netkit(['mail', 'send', '--to', 'bob@lab', '--text', 'x', '--server', `[::1]:${closed}`]),
      netkit(['pop3', 'list', '--server', `[::1]:${closed}`, '--user', 'bob'], { env }),
      netkit(['ftp', 'ls', `ftp://[::1]:${closed}/`]),
      netkit(['chat', 'join', `[::1]:${closed}`]),
    ]);
    for (const r of refused)
      expect([r.code, r.stderr]).toEqual([1, `netkit: connection refused by [::1]:${closed}\n`]);
    // `::1:31110` is no address (31110 is not a 16-bit group): the user meant a port
    const glued = await netkit(['pop3', 'list', '--server', '::1:31110', '--user', 'bob'], { env });
    expect([glued.code, glued.stderr]).toEqual([
      2,
      'netkit: "::1:31110": write an IPv6 address with a port in brackets: [::1]:31110\n',
    ]);
  });

  it('the HTTP client says an unknown host in the same words, and when it is the proxy', async () => {
    const unknown = await netkit(['http', 'get', 'http://nosuch.invalid/']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'netkit: cannot resolve host "nosuch.invalid"\n']);
    const closed = await freePort();
    const proxied = await netkit([
      'http',
      'get',
      '-x',
      'http://nosuch.invalid:3128',
      `http://127.0.0.1:${closed}/`,
    ]);
    expect([proxied.code, proxied.stderr]).toEqual([
      1,
      `netkit: cannot resolve host "nosuch.invalid" (the proxy for 127.0.0.1:${closed})\n`,
    ]);
    // the library's words too, for the error undici passes on from Node's resolver
    const raw = Object.assign(new Error('getaddrinfo ENOTFOUND nosuch.invalid'), {
      code: 'ENOTFOUND',
      hostname: 'nosuch.invalid',
    });
    expect(httpError(raw, 'https://user:secret@nosuch.invalid:8443/x')).toMatchObject({
      code: 'NETKIT_NOT_FOUND',
      message: 'cannot resolve host "nosuch.invalid"',
    });
  });

  it('implicit TLS asked of a plain port is said in words; --tls alone means the TLS port', async () => {
    const { dir, cleanup } = await tempDir();
    const smtp = await createSmtpServer({ dataDir: dir, port: 0 });
    try {
      const r = await netkit([
        'mail',
        'send',
        '--tls',
        '--server',
        `127.0.0.1:${smtp.port}`,
        '--to',
        'bob@lab',
        '--text',
        'x',
      ]);
      expect([r.code, r.stderr]).toEqual([
        1,
        `netkit: TLS with 127.0.0.1:${smtp.port} failed: the server does not speak TLS there (wrong version number); a plain port?\n`,
      ]);
    } finally {
      await smtp.close();
      await cleanup();
    }
    const plainSmtp = smtpAddress({});
    expect([plainSmtp.host, plainSmtp.port]).toEqual(['127.0.0.1', 2525]);
    expect(smtpAddress({ tls: true })).toEqual({ host: '127.0.0.1', port: 4650 });
    expect(smtpAddress({ tls: true, server: 'mx.test' })).toEqual({ host: 'mx.test', port: 4650 });
    expect(smtpAddress({ tls: true, server: 'mx.test:465' })).toEqual({ host: 'mx.test', port: 465 });
    const plainPop3 = pop3Address({});
    expect([plainPop3.host, plainPop3.port]).toEqual(['127.0.0.1', 1110]);
    expect(pop3Address({ tls: true })).toEqual({ host: '127.0.0.1', port: 1995 });
    expect(pop3Address({ tls: true, server: '[::1]' })).toEqual({ host: '::1', port: 1995 });
  });

  it('a message with a CR, LF or escape in it stays one safe line', async () => {
    const r = await netkit(['ftp', 'ls', 'ftp://127.0.0.1:1/pub\r\n226 fake\u001b[2J']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'netkit: bad FTP URL "ftp://127.0.0.1:1/pub\\x0d\\x0a226 fake\\x1b[2J": path contains CR, LF or NUL\n',
    ]);
    expect(errorMessage(new Error('first\r\nsecond'))).toBe('first');
    expect(errorMessage('one\u001b[31m red')).toBe('one\\x1b[31m red');
  });

  it('system error codes in words: a missing file, a multicast interface that is not here', async () => {
    const missing = await netkit(['mail', 'show', 'no-such-message.eml']);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      'netkit: no-such-message.eml: no such file or directory\n',
    ]);
    const closed = await freePort();
    const ftp = await netkit(['ftp', 'ls', `ftp://127.0.0.1:${closed}/`]);
    expect([ftp.code, ftp.stderr]).toEqual([1, `netkit: connection refused by 127.0.0.1:${closed}\n`]);
    const iface = await netkit(['multicast', 'send', 'x', '--interface', '192.0.2.1']);
    expect(iface.code).toBe(1);
    expect(iface.stderr).toMatch(/^netkit: multicast: .*192\.0\.2\.1: the address is not on this machine/);
  });

  it('--debug prints the stack after the line', async () => {
    const closed = await freePort();
    const r = await netkit(['tcp', 'connect', '127.0.0.1', String(closed), '--debug']);
    expect(r.code).toBe(1);
    const [first, ...rest] = r.stderr.trimEnd().split('\n');
    expect(first).toBe(`netkit: connection refused by 127.0.0.1:${closed}`);
    expect(rest.some((l) => /^\s+at /.test(l))).toBe(true);
  });
});
