/**
 * Our own mail chain end to end: `sendMail` (STARTTLS, AUTH) → our SMTP server → Maildir → our POP3
 * server (STLS) → `Pop3Client`, with the lab's development certificate trusted explicitly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { loadTls } from '../../src/core/tls.js';
import { Pop3Client } from '../../src/mail/pop3-client.js';
import { createPop3Server, type Pop3ServerHandle } from '../../src/mail/pop3-server.js';
import { sendMail } from '../../src/mail/send.js';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { tempDir } from '../helpers/net.js';

describe('sendMail → our SMTP → Maildir → our POP3 → Pop3Client', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let smtp: SmtpServerHandle;
  let pop3: Pop3ServerHandle;
  let ca: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const accounts = new AccountStore(dir);
    await accounts.add('bob', 'bob-secret');
    const tls = await loadTls(dir);
    ca = tls.cert;
    smtp = await createSmtpServer({ dataDir: dir, port: 0, accounts });
    pop3 = await createPop3Server({ dataDir: dir, port: 0, accounts, tls });
  });
  afterAll(async () => {
    await smtp?.close();
    await pop3?.close();
    await cleanup();
  });

  it('delivers and reads back byte-identical attachments over TLS on both legs', async () => {
    const attachment = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256));
    const stored = new Promise((resolve) => smtp.once('message', resolve));
    const result = await sendMail({
      port: smtp.port,
      requireTLS: true,
      ca,
      servername: 'localhost',
      user: 'bob',
      password: 'bob-secret',
      from: 'alice@example.org',
      to: ['bob@lab.test'],
      subject: 'Ünïcödé round trip',
      text: 'first line\n.leading dot survives\n',
      attachments: [{ filename: 'data.bin', content: attachment }],
    });
    expect(result.accepted).toEqual(['bob@lab.test']);
    await stored;

    const client = await Pop3Client.connect({ port: pop3.port, ca, servername: 'localhost' });
    await client.stls();
    await client.login('bob', 'bob-secret');
    const stat = await client.stat();
    expect(stat.count).toBe(1);
    const raw = await client.retr(1);
    expect(raw.length).toBe(stat.size);
    await client.quit();

    const { default: PostalMime } = await import('postal-mime');
    const email = await PostalMime.parse(raw);
    expect(email.subject).toBe('Ünïcödé round trip');
    expect(email.text).toContain('.leading dot survives');
    const got = Buffer.from(email.attachments[0]!.content as ArrayBuffer);
    expect(Buffer.compare(got, attachment)).toBe(0);
  });
});
