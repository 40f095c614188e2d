/**
 * The mail chapter's round trip, through independent peers only (apart from our sender):
 * `netkit mail send` (text + HTML + two attachments, one binary + an inline image + a UTF-8 subject)
 * → aiosmtpd writing a Maildir → Dovecot serving that Maildir over POP3 → Python's `poplib` → Python's
 * `email` package. Every attachment and the inline image come back byte-identical to the original
 * files; the text and HTML parts come back equal (MIME canonicalises text line ends to CRLF, so the
 * comparison normalises them); the subject decodes to the same string; Bcc is not in the message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DovecotHandle, startDovecot } from '../helpers/dovecot.js';
import { netkit, run, tempDir } from '../helpers/net.js';
import { type AiosmtpdPeer, DEBIAN_PYTHON, startAiosmtpd } from './aiosmtpd-peer.js';

const POPLIB_SCRIPT = String.raw`
import email, hashlib, json, poplib, sys
from email import policy
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
pop = poplib.POP3('127.0.0.1', port, timeout=10)
pop.user(user)
pop.pass_(password)
count, size = pop.stat()
resp, lines, octets = pop.retr(1)
pop.quit()
raw = b'\r\n'.join(lines) + b'\r\n'
msg = email.message_from_bytes(raw, policy=policy.default)
parts = []
for part in msg.walk():
    if part.is_multipart():
        parts.append({'type': part.get_content_type()})
        continue
    payload = part.get_payload(decode=True)
    rec = {'type': part.get_content_type(), 'filename': part.get_filename(),
           'cid': part.get('Content-ID'), 'disposition': part.get_content_disposition(),
           'sha256': hashlib.sha256(payload).hexdigest(), 'size': len(payload)}
    if part.get_content_maintype() == 'text' and part.get_filename() is None:
        rec['text'] = part.get_content()
    parts.append(rec)
print(json.dumps({'count': count, 'octets': octets, 'subject': msg['subject'], 'from': str(msg['from']),
                  'to': str(msg['to']), 'cc': str(msg['cc']), 'bcc': msg['bcc'],
                  'content_type': msg.get_content_type(), 'parts': parts}))
`;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('round trip: netkit mail send → aiosmtpd → Maildir → Dovecot → poplib → email', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let smtp: AiosmtpdPeer;
  let dovecot: DovecotHandle | undefined;

  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(async () => {
    await smtp?.stop();
    await dovecot?.stop();
    await tmp.cleanup();
  });

  it('every part arrives intact', async () => {
    const f = (n: string) => path.join(tmp.dir, n);
    const text =
      'Hallo Bob,\n\nGrüße aus dem Labor — 你好!\n.a line that starts with a dot\nFrom the start of a line\n\n-- \nAlice\n';
    const html =
      '<!doctype html><html><body><h1>Grüße 👋</h1><p>Our logo: <img src="cid:logo" alt="logo"></p>\n<p>.dot</p></body></html>\n';
    const binary = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(150_000),
    ]);
    const csv = 'id;name;note\r\n1;Zoë;"a\nb"\n2;Łukasz;.\r\n';
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(4096)]);
    await writeFile(f('body.txt'), text);
    await writeFile(f('body.html'), html);
    await writeFile(f('archive.bin'), binary);
    await writeFile(f('table.csv'), csv);
    await writeFile(f('logo.png'), png);
    const subject =
      'Grüße aus dem Labor — 你好, Welt 👋 ✓ (a long subject line that has to be folded somewhere)';

    const maildir = f('Maildir');
    smtp = await startAiosmtpd(maildir);
    const sent = await netkit([
      'mail',
      'send',
      '--server',
      `127.0.0.1:${smtp.port}`,
      '--from',
      'Alice Ä <alice@lab.test>',
      '--to',
      'bob@lab.test',
      '--cc',
      'carol@lab.test',
      '--bcc',
      'audit@lab.test',
      '--subject',
      subject,
      '--text-file',
      f('body.txt'),
      '--html-file',
      f('body.html'),
      '--attach',
      f('archive.bin'),
      '--attach',
      f('table.csv'),
      '--inline',
      `logo=${f('logo.png')}`,
      '--header',
      'X-Lab-Test: round-trip',
      '--json',
    ]);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const result = JSON.parse(sent.stdout);
    expect(result.cids).toEqual([{ cid: 'logo', filename: 'logo.png' }]);
    const env = await smtp.nextEnvelope();
    expect(env.rcpt_tos).toEqual(['bob@lab.test', 'carol@lab.test', 'audit@lab.test']);
    expect((await readFile(env.file)).length).toBe(result.size);

    dovecot = await startDovecot({ maildir, password: 'pw' });
    const py = await run(DEBIAN_PYTHON, ['-c', POPLIB_SCRIPT, String(dovecot.port), 'bob', 'pw']);
    expect(py.stderr).toBe('');
    expect(py.code).toBe(0);
    const got = JSON.parse(py.stdout);

    expect(got.count).toBe(1);
    expect(got.octets).toBe(result.size);
    expect(got.subject).toBe(subject);
    expect(got.from).toBe('Alice Ä <alice@lab.test>');
    expect(got.to).toBe('bob@lab.test');
    expect(got.cc).toBe('carol@lab.test');
    expect(got.bcc).toBeNull();
    expect(got.content_type).toBe('multipart/mixed');
    const types = got.parts.map((p: { type: string }) => p.type);
    expect(types).toEqual([
      'multipart/mixed',
      'multipart/alternative',
      'text/plain',
      'multipart/related',
      'text/html',
      'image/png',
      'application/octet-stream',
      'text/csv',
    ]);
    const part = (pred: (p: Record<string, unknown>) => boolean) => got.parts.find(pred);
    const crlf = (s: string) => s.replace(/\r\n/g, '\n');
    expect(crlf(part((p) => p.type === 'text/plain').text)).toBe(text);
    expect(crlf(part((p) => p.type === 'text/html').text)).toBe(html);
    expect(part((p) => p.filename === 'archive.bin')).toMatchObject({
      sha256: sha(binary),
      size: binary.length,
      disposition: 'attachment',
    });
    expect(part((p) => p.filename === 'table.csv')).toMatchObject({
      sha256: sha(Buffer.from(csv)),
      size: Buffer.byteLength(csv),
    });
    expect(part((p) => p.type === 'image/png')).toMatchObject({
      sha256: sha(png),
      size: png.length,
      cid: '<logo>',
      disposition: 'inline',
      filename: 'logo.png',
    });
  });
});
