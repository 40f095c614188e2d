/**
 * Independent SMTP clients against our server: Python's smtplib (plain, STARTTLS, login, SMTP_SSL,
 * send_message of a MIME message with attachments and a Chinese subject, SMTPUTF8), curl (smtp://
 * uploads, STARTTLS, AUTH) and swaks (PIPELINING, STARTTLS, AUTH PLAIN/LOGIN, implicit TLS). Each
 * test then reads what landed in the Maildir — parsed by Python's own `email` package where MIME is
 * involved. A missing peer binary fails the test.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import {
  createSmtpServer,
  type SmtpMessageEvent,
  type SmtpServerHandle,
} from '../../src/mail/smtp-server.js';
import { run, tempDir } from '../helpers/net.js';
import { mailboxFiles, SmtpTestClient } from './smtp-test-client.js';

let server: SmtpServerHandle;
let normalising: SmtpServerHandle;
let dir: string;
let work: string;
const events: SmtpMessageEvent[] = [];
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const d = await tempDir('netkit-smtp-interop-');
  dir = d.dir;
  cleanups.push(d.cleanup);
  const w = await tempDir('netkit-smtp-work-');
  work = w.dir;
  cleanups.push(w.cleanup);
  const accounts = new AccountStore(dir);
  await accounts.add('bob', 'hunter2');
  server = await createSmtpServer({ dataDir: dir, port: 0, tlsPort: 0, accounts, authFailureDelay: 20 });
  server.on('message', (ev) => events.push(ev));
  normalising = await createSmtpServer({ dataDir: dir, port: 0, tls: false, bareLineEndings: 'normalise' });
});

afterAll(async () => {
  await server?.close(100);
  await normalising?.close(100);
  for (const c of cleanups) await c();
});

/** Run a Python script (stdlib only) with arguments; its stdout is JSON. */
async function python(script: string, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await run('python3', ['-c', script, ...args]);
  if (r.code !== 0) throw new Error(`python3 exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** Parse a stored message with Python's email package: subject, text, attachments (sha256). */
const PARSE = `
import email, email.policy, hashlib, json, sys
with open(sys.argv[1], 'rb') as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
body = msg.get_body(preferencelist=('plain',))
print(json.dumps({
    'subject': str(msg['subject']),
    'from': str(msg['from']),
    'return_path': str(msg['return-path']),
    'received': [str(h) for h in msg.get_all('received', [])],
    'text': body.get_content() if body else None,
    'attachments': [{'name': p.get_filename(), 'type': p.get_content_type(),
                     'sha256': hashlib.sha256(p.get_payload(decode=True)).hexdigest()}
                    for p in msg.iter_attachments()],
}))
`;

const SEND = String.raw`
import hashlib, json, os, smtplib, ssl, sys
from email.message import EmailMessage
port, mode, to, attach_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
msg = EmailMessage()
msg['From'] = 'Alice <alice@example.org>'
msg['To'] = to
msg['Subject'] = '你好，世界 — 测试邮件'
msg.set_content('正文：你好 Bob.\nSecond line.\n.leading dot\n')
files = []
for name, ctype in (('photo.bin', ('application', 'octet-stream')), ('notes.txt', ('text', 'plain'))):
    data = os.urandom(70000) if name.endswith('.bin') else ('notes \u00e9\n' * 500).encode()
    files.append({'name': name, 'sha256': hashlib.sha256(data).hexdigest()})
    msg.add_attachment(data, maintype=ctype[0], subtype=ctype[1], filename=name)
ctx = ssl._create_unverified_context()
if mode == 'ssl':
    s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=10)
else:
    s = smtplib.SMTP('127.0.0.1', port, timeout=10)
s.ehlo('python.test')
if mode in ('starttls', 'login'):
    s.starttls(context=ctx)
    s.ehlo('python.test')
if mode in ('login', 'ssl'):
    s.login('bob', 'hunter2')
refused = s.send_message(msg)
s.quit()
print(json.dumps({'refused': refused, 'files': files}))
`;

async function storedFor(mailbox: string, before: string[]): Promise<string> {
  const after = await mailboxFiles(dir, mailbox);
  const added = after.filter((f) => !before.includes(f));
  expect(added).toHaveLength(1);
  return path.join(dir, 'mail', mailbox, 'new', added[0]!);
}

describe('Python smtplib → netkit smtp', () => {
  it.each([
    ['plain', 'ESMTP'],
    ['starttls', 'ESMTPS'],
    ['login', 'ESMTPSA'],
    ['ssl', 'ESMTPSA'],
  ])('%s: send_message() of a MIME message with attachments and a Chinese subject', async (mode, proto) => {
    const mailbox = `py-${mode}`;
    const before = await mailboxFiles(dir, mailbox);
    const port = mode === 'ssl' ? server.tlsPort! : server.port;
    const sent = await python(SEND, String(port), mode, `Bob <${mailbox}@lab.test>`, work);
    expect(sent.refused).toEqual({});
    const file = await storedFor(mailbox, before);
    const parsed = await python(PARSE, file);
    expect(parsed.subject).toBe('你好，世界 — 测试邮件');
    expect(parsed.return_path).toBe('<alice@example.org>');
    expect((parsed.received as string[])[0]).toContain(`with ${proto} id`);
    expect(parsed.text).toBe('正文：你好 Bob.\nSecond line.\n.leading dot\n');
    expect(parsed.attachments).toEqual(
      (sent.files as Array<{ name: string; sha256: string }>).map((f) => ({
        name: f.name,
        type: f.name.endsWith('.txt') ? 'text/plain' : 'application/octet-stream',
        sha256: f.sha256,
      })),
    );
    const ev = events.find((e) => path.basename(file) === e.id)!;
    expect(ev.secure).toBe(mode !== 'plain');
    if (mode === 'login' || mode === 'ssl') expect(ev.user).toBe('bob');
  });

  it('SMTPUTF8: a non-ASCII sender is accepted and recorded in Return-Path', async () => {
    const before = await mailboxFiles(dir, 'utf8');
    const out = await python(
      String.raw`
import json, smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.ehlo('python.test')
ok = s.has_extn('smtputf8')
s.sendmail('用户@例子.测试', ['utf8@lab.test'], 'Subject: utf8\r\n\r\nhi\r\n'.encode(), mail_options=['SMTPUTF8'])
s.quit()
print(json.dumps({'smtputf8': ok}))
`,
      String(server.port),
    );
    expect(out.smtputf8).toBe(true);
    const stored = await readFile(await storedFor('utf8', before), 'utf8');
    expect(stored).toMatch(/^Return-Path: <用户@例子\.测试>\r\n/);
  });

  it('login() with a wrong password raises SMTPAuthenticationError (535)', async () => {
    const out = await python(
      `
import json, smtplib, ssl, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.starttls(context=ssl._create_unverified_context())
try:
    s.login('bob', 'wrong')
    print(json.dumps({'code': 235}))
except smtplib.SMTPAuthenticationError as e:
    print(json.dumps({'code': e.smtp_code, 'text': e.smtp_error.decode()}))
`,
      String(server.port),
    );
    expect(out.code).toBe(535);
    expect(out.text).toMatch(/^5\.7\.8 /);
  });

  it('a message over SIZE raises SMTPDataError 552 (or is refused up front)', async () => {
    const small = await createSmtpServer({ dataDir: dir, port: 0, tls: false, maxSize: 2000 });
    try {
      const out = await python(
        String.raw`
import json, smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
codes = []
try:
    s.sendmail('a@b.test', ['toobig@lab.test'], b'Subject: big\r\n\r\n' + b'x' * 5000 + b'\r\n')
except smtplib.SMTPSenderRefused as e:
    codes.append(e.smtp_code)
s.ehlo_resp = None
s.esmtp_features = {}
s.does_esmtp = False
s.helo('python.test')
try:
    s.sendmail('a@b.test', ['toobig@lab.test'], b'Subject: big\r\n\r\n' + b'x' * 5000 + b'\r\n')
except smtplib.SMTPDataError as e:
    codes.append(e.smtp_code)
s.sendmail('a@b.test', ['toobig@lab.test'], b'Subject: small\r\n\r\nok\r\n')
s.quit()
print(json.dumps({'codes': codes}))
`,
        String(small.port),
      );
      // first refused at MAIL FROM (SIZE=), then at the end of DATA; then a small one works
      expect(out.codes).toEqual([552, 552]);
      expect(await mailboxFiles(dir, 'toobig')).toHaveLength(1);
    } finally {
      await small.close(100);
    }
  });
});

describe('curl → netkit smtp', () => {
  const eml =
    'From: curl@example.org\r\nTo: curl@lab.test\r\nSubject: from curl\r\n\r\nUploaded by curl.\r\n';

  it('smtp:// upload with --mail-from / --mail-rcpt -T to two mailboxes', async () => {
    const file = path.join(work, 'crlf.eml');
    await writeFile(file, eml);
    const before = await mailboxFiles(dir, 'curl');
    const r = await run('curl', [
      '-sS',
      `smtp://127.0.0.1:${server.port}`,
      '--mail-from',
      'curl@example.org',
      '--mail-rcpt',
      'curl@lab.test',
      '--mail-rcpt',
      'curl2@lab.test',
      '-T',
      file,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const stored = await readFile(await storedFor('curl', before), 'utf8');
    expect(stored.endsWith(eml)).toBe(true);
    expect(await mailboxFiles(dir, 'curl2')).toHaveLength(1);
  });

  it('STARTTLS (--ssl-reqd) with AUTH (--user)', async () => {
    const file = path.join(work, 'crlf2.eml');
    await writeFile(file, eml);
    const before = await mailboxFiles(dir, 'curltls');
    const r = await run('curl', [
      '-sS',
      '--ssl-reqd',
      '-k',
      '--user',
      'bob:hunter2',
      `smtp://127.0.0.1:${server.port}`,
      '--mail-from',
      'bob@lab.test',
      '--mail-rcpt',
      'curltls@lab.test',
      '-T',
      file,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const stored = await readFile(await storedFor('curltls', before), 'utf8');
    expect(stored).toMatch(/with ESMTPSA id \S+ \(using TLSv1\.[23]/);
  });

  it('a file with bare LF line endings is refused by default and normalised on request', async () => {
    const file = path.join(work, 'lf.eml');
    await writeFile(file, 'Subject: lf only\n\nline one\nline two\n');
    const args = (port: number) => [
      '-sS',
      `smtp://127.0.0.1:${port}`,
      '--mail-from',
      'a@example.org',
      '--mail-rcpt',
      'curllf@lab.test',
      '-T',
      file,
    ];
    const refused = await run('curl', args(server.port));
    expect(refused.code).not.toBe(0);
    expect(await mailboxFiles(dir, 'curllf')).toEqual([]);
    // curl --crlf converts, and a normalising server accepts the file as it is
    expect((await run('curl', ['--crlf', ...args(server.port)])).code).toBe(0);
    expect((await run('curl', args(normalising.port))).code).toBe(0);
    const files = await mailboxFiles(dir, 'curllf');
    expect(files).toHaveLength(2);
    for (const f of files) {
      const stored = await readFile(path.join(dir, 'mail', 'curllf', 'new', f), 'latin1');
      expect(stored).toContain('Subject: lf only\r\n\r\nline one\r\nline two\r\n');
    }
  });
});

describe('swaks → netkit smtp', () => {
  const swaks = (...args: string[]) => run('swaks', ['--server', `127.0.0.1:${server.port}`, ...args]);

  it('--pipeline sends MAIL/RCPT/DATA in one go', async () => {
    const before = await mailboxFiles(dir, 'swaks');
    const r = await swaks(
      '--from',
      'swaks@example.org',
      '--to',
      'swaks@lab.test,swaks2@lab.test',
      '--pipeline',
    );
    expect(r.code).toBe(0);
    // swaks shows pipelined commands sent together, then the replies
    expect(r.stdout).toMatch(
      / -> MAIL FROM:<swaks@example\.org>\n -> RCPT TO:<swaks@lab\.test>\n -> RCPT TO:<swaks2@lab\.test>\n -> DATA/,
    );
    expect(r.stdout).toMatch(/<- {2}250 2\.6\.0 Ok: stored in 2 mailboxes/);
    const stored = await readFile(await storedFor('swaks', before), 'utf8');
    expect(stored).toContain('X-Mailer: swaks');
  });

  it.each(['PLAIN', 'LOGIN'])('--tls --auth %s against the accounts file', async (mech) => {
    const before = await mailboxFiles(dir, 'swaksauth');
    const r = await swaks(
      '--from',
      'bob@lab.test',
      '--to',
      'swaksauth@lab.test',
      '--tls',
      '--auth',
      mech,
      '--auth-user',
      'bob',
      '--auth-password',
      'hunter2',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('=== TLS started with cipher');
    expect(r.stdout).toMatch(/<~ {2}235 2\.7\.0 Authentication successful/);
    const stored = await readFile(await storedFor('swaksauth', before), 'utf8');
    expect(stored).toContain('with ESMTPSA id');
  });

  it('--tls --auth with a wrong password fails with 535', async () => {
    const r = await swaks(
      '--to',
      'x@lab.test',
      '--tls',
      '--auth',
      'LOGIN',
      '--auth-user',
      'bob',
      '--auth-password',
      'nope',
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/<~\* +535 5\.7\.8 /);
  });

  it('--tls-on-connect to the implicit-TLS port', async () => {
    const before = await mailboxFiles(dir, 'swakstls');
    const r = await run('swaks', [
      '--server',
      `127.0.0.1:${server.tlsPort}`,
      '--tls-on-connect',
      '--to',
      'swakstls@lab.test',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('=== TLS started with cipher');
    const stored = await readFile(await storedFor('swakstls', before), 'utf8');
    expect(stored).toContain('with ESMTPS id');
  });
});

describe('AUTH from a non-loopback address (the host interface): only after STARTTLS', () => {
  // a client on another host is simulated by a connection to and from this host's own interface
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

  it('withheld from EHLO, 538 5.7.11 to AUTH; swaks --tls then authenticates; a server without TLS says so', async () => {
    expect(external, 'a non-loopback IPv4 interface is needed for this test').toBeDefined();
    const accounts = new AccountStore(dir);
    const remote = await createSmtpServer({
      dataDir: dir,
      host: external!,
      port: 0,
      accounts,
      authFailureDelay: 20,
    });
    const bare = await createSmtpServer({ dataDir: dir, host: external!, port: 0, tls: false, accounts });
    try {
      const { client } = await SmtpTestClient.open(remote.port, external);
      const caps = (await client.cmd('EHLO far.test')).lines.map((l) => l.slice(4));
      expect(caps).toContain('STARTTLS');
      expect(caps.some((c) => c.startsWith('AUTH'))).toBe(false);
      const secret = Buffer.from('\0bob\0hunter2').toString('base64');
      expect((await client.cmd(`AUTH PLAIN ${secret}`)).last).toBe(
        '538 5.7.11 Encryption required for requested authentication mechanism: issue STARTTLS first',
      );
      await client.quit();

      const before = await mailboxFiles(dir, 'faraway');
      const r = await run('swaks', [
        ...['--server', `${external}:${remote.port}`, '--from', 'bob@lab.test', '--to', 'faraway@lab.test'],
        ...['--tls', '--auth', 'PLAIN', '--auth-user', 'bob', '--auth-password', 'hunter2'],
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/<~ {2}235 2\.7\.0 Authentication successful/);
      expect(await mailboxFiles(dir, 'faraway')).toHaveLength(before.length + 1);

      const plain = await SmtpTestClient.open(bare.port, external);
      await plain.client.cmd('EHLO far.test');
      expect((await plain.client.cmd(`AUTH PLAIN ${secret}`)).last).toBe(
        '538 5.7.11 Encryption required for requested authentication mechanism (this server has no TLS)',
      );
      await plain.client.quit();
    } finally {
      await remote.close(100);
      await bare.close(100);
    }
  });
});
