/**
 * `netkit mail send` against Postfix's smtp-sink (C, the sink Postfix is tested with): the envelope
 * smtp-sink records (MAIL FROM, every RCPT TO, Bcc never in the headers), the message it stores
 * parsed back with postal-mime (UTF-8 subject, text and HTML, a binary attachment byte-identical),
 * and PIPELINING used for the envelope since smtp-sink offers it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, tempDir } from '../helpers/net.js';
import { type SmtpSinkHandle, startSmtpSink } from '../helpers/smtp-sink.js';

let dir: string;
let cleanup: () => Promise<void>;
let dump: string;
let sink: SmtpSinkHandle;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-smtp-sink-'));
  await chmod(dir, 0o755); // smtp-sink runs as nobody when we are root
  dump = path.join(dir, 'dump');
  await mkdir(dump);
  sink = await startSmtpSink(dump);
});
afterAll(async () => {
  await sink?.stop();
  await cleanup();
});

describe('netkit mail send against smtp-sink', () => {
  it('delivers envelope and MIME intact, pipelining the envelope', async () => {
    const attachment = randomBytes(20_000);
    const file = path.join(dir, 'report.bin');
    await writeFile(file, attachment);
    const r = await netkit([
      'mail',
      'send',
      '--server',
      `127.0.0.1:${sink.port}`,
      '--no-tls',
      '--from',
      'alice@example.org',
      '--to',
      'bob@lab.test',
      '--cc',
      'carol@lab.test',
      '--bcc',
      'dave@lab.test',
      '--subject',
      'Quarterly numbers ✓',
      '--text',
      'plain text',
      '--html',
      '<p>html <b>text</b></p>',
      '--attach',
      file,
      '--trace',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // smtp-sink advertises PIPELINING: MAIL, RCPT × 3 and DATA go out before the first reply
    const client = r.stderr.split('\n').filter((l) => /C: |S: /.test(l));
    const mail = client.findIndex((l) => l.includes('C: MAIL FROM'));
    expect(client.slice(mail, mail + 5).map((l) => l.replace(/.*(C|S): (\S+).*/, '$1 $2'))).toEqual([
      'C MAIL',
      'C RCPT',
      'C RCPT',
      'C RCPT',
      'C DATA',
    ]);

    const files = await readdir(dump);
    expect(files).toHaveLength(1);
    const stored = await readFile(path.join(dump, files[0]!));
    const text = stored.toString('latin1');
    expect(text).toMatch(/^X-Mail-Args: <alice@example\.org>/m);
    const rcpts = [...text.matchAll(/^X-Rcpt-Args: <([^>]+)>/gm)].map((m) => m[1]).sort();
    expect(rcpts).toEqual(['bob@lab.test', 'carol@lab.test', 'dave@lab.test']);
    const email = await PostalMime.parse(stored);
    expect(email.subject).toBe('Quarterly numbers ✓');
    expect(email.text?.trim()).toBe('plain text');
    expect(email.html).toContain('<b>text</b>');
    expect(text).not.toMatch(/^Bcc:/im);
    expect(email.attachments).toHaveLength(1);
    expect(email.attachments[0]!.filename).toBe('report.bin');
    expect(Buffer.from(email.attachments[0]!.content as ArrayBuffer).equals(attachment)).toBe(true);
  });
});
