/**
 * Our POP3 client against an independent server: Dovecot (Debian dovecot-pop3d) serving a Maildir,
 * with STLS and implicit TLS using a certificate we trust through `ca`.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { Maildir } from '../../src/mail/maildir.js';
import { Pop3Client, Pop3Error } from '../../src/mail/pop3-client.js';
import { type DovecotHandle, startDovecot } from '../helpers/dovecot.js';
import { tempDir } from '../helpers/net.js';

const MESSAGES = [
  Buffer.from(
    'From: a@lab\r\nTo: bob@lab\r\nSubject: one\r\n\r\nfirst body\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n',
  ),
  Buffer.from('From: b@lab\r\nTo: bob@lab\r\nSubject: two\r\n\r\n8-bit: gr\xc3\xbc\xc3\x9fe\r\n', 'latin1'),
  Buffer.from(`From: c@lab\r\nTo: bob@lab\r\nSubject: three\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(300)),
];

describe('Pop3Client against Dovecot', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let dovecot: DovecotHandle;
  let ids: string[];
  let cert: string;
  const maildirPath = () => path.join(tmp.dir, 'Maildir');

  beforeAll(async () => {
    tmp = await tempDir();
    const md = new Maildir(maildirPath());
    ids = [];
    for (const m of MESSAGES) ids.push(await md.deliver(m));
    const pem = await generateDevCertificate();
    cert = pem.cert;
    dovecot = await startDovecot({ maildir: maildirPath(), password: 'secret', tls: pem });
  });

  afterAll(async () => {
    await dovecot?.stop();
    await tmp?.cleanup();
  });

  it('speaks CAPA, STAT, LIST, UIDL, TOP and RETR; bodies are byte-identical and dot-unstuffed', async () => {
    const c = await Pop3Client.connect({ port: dovecot.port });
    expect(c.greeting).toMatch(/Dovecot/);
    const caps = await c.capa();
    expect(Object.keys(caps)).toEqual(
      expect.arrayContaining(['TOP', 'UIDL', 'USER', 'PIPELINING', 'RESP-CODES', 'STLS']),
    );
    await c.login('bob', 'secret');
    const total = MESSAGES.reduce((a, m) => a + m.length, 0);
    expect(await c.stat()).toEqual({ count: 3, size: total });
    expect(await c.list()).toEqual(MESSAGES.map((m, i) => ({ n: i + 1, size: m.length })));
    expect(await c.list(2)).toEqual({ n: 2, size: MESSAGES[1]!.length });
    const uidl = await c.uidl();
    expect(uidl.map((u) => u.n)).toEqual([1, 2, 3]);
    expect(uidl.map((u) => u.uid)).toEqual(ids);
    expect((await c.uidl(3)).uid).toBe(ids[2]);
    for (let i = 0; i < MESSAGES.length; i++) expect((await c.retr(i + 1)).equals(MESSAGES[i]!)).toBe(true);
    const top = await c.top(1, 1);
    expect(top.toString()).toBe('From: a@lab\r\nTo: bob@lab\r\nSubject: one\r\n\r\nfirst body\r\n');
    expect(await c.noop()).toBeDefined();
    await c.quit();
  });

  it('pipelines RETR with retrMany', async () => {
    const c = await Pop3Client.connect({ port: dovecot.port });
    await c.login('bob', 'secret');
    const all = await c.retrMany([3, 1, 2], { window: 3 });
    expect(all.map((b) => b.length)).toEqual([MESSAGES[2]!.length, MESSAGES[0]!.length, MESSAGES[1]!.length]);
    const seen: number[] = [];
    await c.retrEach([2, 3], (n, m) => {
      seen.push(n);
      expect(m.equals(MESSAGES[n - 1]!)).toBe(true);
    });
    expect(seen).toEqual([2, 3]);
    await c.quit();
  });

  it('AUTH PLAIN works too, and PASS never appears in the trace', async () => {
    const c = await Pop3Client.connect({ port: dovecot.port });
    const lines: string[] = [];
    c.on('trace', (ev) => lines.push(`${ev.kind} ${ev.text}`));
    await c.login('bob', 'secret', { method: 'plain' });
    expect((await c.stat()).count).toBe(3);
    await c.quit();
    expect(lines.join('\n')).toContain('AUTH PLAIN ****');
    expect(lines.join('\n')).not.toMatch(/AGJvYgBzZWNyZXQ|secret/);
  });

  it('upgrades with STLS (certificate verified through ca) and refuses an untrusted certificate', async () => {
    const c = await Pop3Client.connect({ port: dovecot.port, ca: cert });
    await c.stls();
    expect(c.secure).toBe(true);
    await c.login('bob', 'secret');
    expect((await c.stat()).count).toBe(3);
    await c.quit();

    const untrusted = await Pop3Client.connect({ port: dovecot.port });
    const err = await untrusted.stls().catch((e) => e);
    expect(err.code).toBe('NETKIT_CONNECT_FAILED');
    expect(err.message).toMatch(
      /^TLS certificate of 127\.0\.0\.1:\d+ not trusted \(.+\); trust it with --ca FILE, or skip verification with --insecure$/,
    );

    const insecure = await Pop3Client.connect({ port: dovecot.port, rejectUnauthorized: false });
    await insecure.stls();
    await insecure.login('bob', 'secret');
    await insecure.quit();
  });

  it('connects with implicit TLS', async () => {
    const c = await Pop3Client.connect({ port: dovecot.tlsPort!, tls: true, ca: cert });
    expect(c.secure).toBe(true);
    await c.login('bob', 'secret');
    expect((await c.stat()).count).toBe(3);
    await c.quit();
  });

  it('carries -ERR text; the session stays usable after -ERR', async () => {
    const c = await Pop3Client.connect({ port: dovecot.port });
    await c.login('bob', 'secret');
    const noSuch = await c.retr(99).catch((e) => e);
    expect(noSuch).toBeInstanceOf(Pop3Error);
    expect(noSuch.code).toBe('NETKIT_PROTOCOL');
    expect(noSuch.serverText).toMatch(/no message/i);
    expect((await c.stat()).count).toBe(3);
    await c.quit();
  });

  it('DELE applies only after QUIT: RSET and a dropped session delete nothing', async () => {
    const c1 = await Pop3Client.connect({ port: dovecot.port });
    await c1.login('bob', 'secret');
    await c1.dele(1);
    await c1.rset();
    await c1.dele(1);
    c1.close(); // no QUIT
    await c1.whenClosed; // Dovecot has seen the disconnect and closed its side
    const c2 = await Pop3Client.connect({ port: dovecot.port });
    await c2.login('bob', 'secret');
    expect((await c2.stat()).count).toBe(3);
    await c2.dele(1);
    await c2.quit();
    const c3 = await Pop3Client.connect({ port: dovecot.port });
    await c3.login('bob', 'secret');
    expect((await c3.stat()).count).toBe(2);
    expect((await c3.uidl()).map((u) => u.uid)).toEqual(ids.slice(1));
    await c3.quit();
    // and the file is really gone from the Maildir
    expect((await new Maildir(maildirPath()).list()).map((e) => e.id)).toEqual(ids.slice(1));
  });
  // last: Dovecot delays every later login from this address after a failed one (auth penalty)
  it('a wrong password is a Pop3Error with code NETKIT_AUTH and response code AUTH', async () => {
    const c = await Pop3Client.connect({ port: dovecot.port });
    await c.user('bob');
    const err = await c.pass('wrong').catch((e) => e);
    expect(err).toBeInstanceOf(Pop3Error);
    expect(err.code).toBe('NETKIT_AUTH');
    expect(err.responseCode).toBe('AUTH');
    expect(err.message).toContain('PASS ****');
    expect(err.message).not.toContain('wrong');
    await c.quit();
  });
});
