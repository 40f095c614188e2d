/**
 * Our sender (library and `netkit mail send`) against an independent SMTP server: aiosmtpd (Debian
 * python3-aiosmtpd) — plaintext, STARTTLS with AUTH, implicit TLS, certificate trust, failures.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { sendMail } from '../../src/mail/send.js';
import { netkit, tempDir } from '../helpers/net.js';
import { type AiosmtpdPeer, startAiosmtpd } from './aiosmtpd-peer.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let cert: string;
let certFile: string;
let keyFile: string;
let dataDir: string;
const peers: AiosmtpdPeer[] = [];

beforeAll(async () => {
  tmp = await tempDir();
  const pem = await generateDevCertificate();
  cert = pem.cert;
  // a lab data directory whose dev certificate the CLI trusts automatically
  dataDir = path.join(tmp.dir, 'netkit-data');
  await mkdir(path.join(dataDir, 'tls'), { recursive: true });
  certFile = path.join(dataDir, 'tls', 'dev-cert.pem');
  keyFile = path.join(dataDir, 'tls', 'dev-key.pem');
  await writeFile(certFile, pem.cert);
  await writeFile(keyFile, pem.key, { mode: 0o600 });
});

afterAll(async () => {
  for (const p of peers) await p.stop();
  await tmp.cleanup();
});

/** `netkit mail send` of a one-line message to b@lab at `port`, plaintext. */
const sendHi = (port: number, ...extra: string[]) =>
  netkit(['mail', 'send', '--server', `127.0.0.1:${port}`, '--to', 'b@lab', '--text', 'x', ...extra]);

async function peer(name: string, opts: Parameters<typeof startAiosmtpd>[1] = {}) {
  const p = await startAiosmtpd(path.join(tmp.dir, name), { cert: certFile, key: keyFile, ...opts });
  peers.push(p);
  return p;
}

describe('sending to aiosmtpd', () => {
  it('delivers exactly the composed bytes; Bcc only in RCPT TO', async () => {
    const p = await peer('plain');
    const r = await sendMail({
      port: p.port,
      from: 'alice@lab',
      to: ['bob@lab'],
      cc: ['carol@lab'],
      bcc: ['secret-audit@lab'],
      subject: 'Plain ✓',
      text: 'line one\n.line starting with a dot\n..two dots\n',
    });
    expect(r.accepted).toEqual(['bob@lab', 'carol@lab', 'secret-audit@lab']);
    expect(r.response).toMatch(/^250 OK stored/);
    const env = await p.nextEnvelope();
    expect(env.mail_from).toBe('alice@lab');
    expect(env.rcpt_tos).toEqual(['bob@lab', 'carol@lab', 'secret-audit@lab']);
    expect(env.tls).toBe(false);
    const stored = await readFile(env.file);
    expect(stored.equals(r.message)).toBe(true);
    expect(stored.toString()).not.toContain('secret-audit');
  });

  it('upgrades with STARTTLS and authenticates; the trace hides the password', async () => {
    const p = await peer('starttls', { mode: 'starttls', user: 'bob', password: 'hunter2-pw' });
    const r = await netkit(
      [
        'mail',
        'send',
        '--server',
        `127.0.0.1:${p.port}`,
        '--data',
        dataDir,
        '--user',
        'bob',
        '--from',
        'bob@lab',
        '--to',
        'alice@lab',
        '--subject',
        'over TLS',
        '--text',
        'hi',
        '--trace',
        '--json',
      ],
      { env: { NETKIT_PASSWORD: 'hunter2-pw' } },
    );
    expect(r.stderr).toMatch(/C: STARTTLS/);
    expect(r.stderr).toMatch(/C: AUTH (PLAIN|LOGIN)/);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain(Buffer.from('\0bob\0hunter2-pw').toString('base64'));
    expect(r.stderr).not.toContain(Buffer.from('hunter2-pw').toString('base64'));
    const rec = JSON.parse(r.stdout);
    expect(rec.accepted).toEqual(['alice@lab']);
    const env = await p.nextEnvelope();
    expect(env).toMatchObject({ tls: true, auth: true, rcpt_tos: ['alice@lab'] });
  });

  it('refuses an untrusted certificate with a hint, and --insecure accepts it', async () => {
    const p = await peer('untrusted', { mode: 'starttls' });
    const args = [
      'mail',
      'send',
      '--server',
      `127.0.0.1:${p.port}`,
      '--data',
      path.join(tmp.dir, 'empty'),
      '--to',
      'b@lab',
      '--text',
      'x',
    ];
    const bad = await netkit(args);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toBe(
      `netkit: TLS certificate of 127.0.0.1:${p.port} not trusted (self-signed certificate); trust it with --ca FILE, or skip verification with --insecure\n`,
    );
    const ok = await netkit([...args, '--insecure']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^sent <.*> .* to b@lab/);
    expect((await p.nextEnvelope()).tls).toBe(true);
  });

  it('speaks implicit TLS with --tls', async () => {
    const p = await peer('implicit', { mode: 'implicit' });
    const r = await sendMail({ port: p.port, secure: true, ca: cert, to: 'b@lab', subject: 's', text: 't' });
    expect(r.accepted).toEqual(['b@lab']);
    expect((await p.nextEnvelope()).tls).toBe(true);
    const cli = await netkit([
      'mail',
      'send',
      '--server',
      `127.0.0.1:${p.port}`,
      '--tls',
      '--ca',
      certFile,
      '--to',
      'c@lab',
      '--text',
      'x',
    ]);
    expect(cli.code).toBe(0);
    expect((await p.nextEnvelope()).rcpt_tos).toEqual(['c@lab']);
  });

  it('over IPv6 ([::1]:PORT, STARTTLS): EHLO names our own address, [IPv6:::1], not [127.0.0.1]', async () => {
    const p = await peer('ipv6', { mode: 'starttls', host: '::1' });
    const r = await netkit([
      'mail',
      'send',
      '--server',
      `[::1]:${p.port}`,
      '--ca',
      certFile,
      '--to',
      'b@lab',
      '--text',
      'x',
      '--trace',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // RFC 5321 §4.1.4: the fully qualified name of the machine when it has one (nodemailer's rule),
    // else the address literal of the connection's own address (§4.1.3), before and after STARTTLS
    const expected = hostname().includes('.') ? hostname() : '[IPv6:::1]';
    expect(r.stderr.match(/C: EHLO \S+/g)).toEqual([`C: EHLO ${expected}`, `C: EHLO ${expected}`]);
    expect((await p.nextEnvelope()).helo).toBe(expected);
  });

  it('--user under --no-tls: aiosmtpd offers AUTH only after STARTTLS, so nothing is sent (exit 1)', async () => {
    const p = await peer('auth-after-tls', { mode: 'starttls', user: 'bob', password: 'right' });
    const r = await netkit(
      [
        'mail',
        'send',
        '--server',
        `127.0.0.1:${p.port}`,
        '--no-tls',
        '--user',
        'bob',
        '--to',
        'b@lab',
        '--text',
        'x',
        '--trace',
      ],
      { env: { NETKIT_PASSWORD: 'right' } },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^netkit: 127\\.0\\.0\\.1:${p.port} does not offer AUTH \\(it may offer AUTH only after STARTTLS, which --no-tls turned off\\); nothing was sent$`,
        'm',
      ),
    );
    expect(r.stderr).not.toMatch(/C: (AUTH|MAIL|RCPT|DATA)/);
    expect(r.stderr).toMatch(/C: QUIT/);
  });

  it('reports a wrong password, a server that demands STARTTLS under --no-tls, and a missing STARTTLS', async () => {
    const auth = await peer('auth', { mode: 'starttls', user: 'bob', password: 'right' });
    const wrong = await sendMail({
      port: auth.port,
      ca: cert,
      user: 'bob',
      password: 'wrong',
      to: 'b@lab',
      text: 'x',
    }).catch((e) => e);
    expect(wrong.code).toBe('NETKIT_AUTH');
    expect(wrong.message).toMatch(/535/);

    const noTls = await netkit([
      'mail',
      'send',
      '--server',
      `127.0.0.1:${auth.port}`,
      '--no-tls',
      '--to',
      'b@lab',
      '--text',
      'x',
    ]);
    expect(noTls.code).toBe(1);
    expect(noTls.stderr).toMatch(/530/);
    // that 530 asks for TLS, not for a login (RFC 3207): not an authentication failure
    const noTlsLib = await sendMail({ port: auth.port, ignoreTLS: true, to: 'b@lab', text: 'x' }).catch(
      (e) => e,
    );
    expect(noTlsLib.code).toBe('NETKIT_PROTOCOL');
    expect(noTlsLib.message).toMatch(/530 Must issue a STARTTLS command first/);

    const plain = await peer('no-starttls');
    const req = await sendMail({ port: plain.port, requireTLS: true, to: 'b@lab', text: 'x' }).catch(
      (e) => e,
    );
    expect(req.code).toBe('NETKIT_PROTOCOL');
    expect(req.message).toMatch(/STARTTLS/i);
  });

  it('a 530 "Authentication required" is NETKIT_AUTH: one line saying to log in, exit 1', async () => {
    const p = await peer('auth-required', { mode: 'plain', user: 'bob', password: 'right' });
    const r = await sendHi(p.port);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `netkit: 127.0.0.1:${p.port} requires authentication (its reply to MAIL FROM: 530 5.7.0 Authentication required); log in with --user\n`,
    );
    const lib = await sendMail({ port: p.port, to: 'b@lab', text: 'x' }).catch((e) => e);
    expect(lib.code).toBe('NETKIT_AUTH');
    const ok = await sendMail({ port: p.port, user: 'bob', password: 'right', to: 'b@lab', text: 'x' });
    expect(ok.accepted).toEqual(['b@lab']);
  });

  it('sends a header with an empty value as written, as swaks does (nodemailer would drop it)', async () => {
    const p = await peer('empty-header');
    const r = await sendHi(p.port, '--header', 'X-Empty:', '--header', 'X-Blank:   ', '--header', 'X-Lab: 1');
    expect(r.code).toBe(0);
    const stored = (await readFile((await p.nextEnvelope()).file)).toString('latin1');
    const head = stored.slice(0, stored.indexOf('\r\n\r\n') + 2);
    expect(head).toMatch(/^X-Empty:\r\nX-Blank:\r\nX-Lab: 1\r\n/);
    expect(head).not.toContain('netkit-empty');
  });
});
