/**
 * fetchmail (Debian `fetchmail`), the classic POP3 collector, against our POP3 server: STLS with the
 * certificate verified against the data directory's development certificate, USER/PASS, CAPA, UIDL,
 * TOP-based retrieval, DELE, QUIT — every message handed to the delivery agent intact (dot-led lines
 * unstuffed, 8-bit bodies unchanged) and removed from the Maildir; a wrong password changes nothing.
 */
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { loadTls } from '../../src/core/tls.js';
import { Maildir } from '../../src/mail/maildir.js';
import { createPop3Server, type Pop3ServerHandle } from '../../src/mail/pop3-server.js';
import { have, run, tempDir } from '../helpers/net.js';

const MESSAGES = [
  'From: alice@example.org\r\nTo: bob@lab\r\nSubject: first\r\n\r\nHello Bob,\r\n.a line with a leading dot\r\n..two dots\r\nbye\r\n',
  'From: carol@example.org\r\nSubject: second\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa4\xc3\xb6\xc3\xbc 8-bit body\r\n',
  `From: dave@example.org\r\nSubject: third\r\n\r\n${'x'.repeat(70)}\r\n${'y\r\n'.repeat(2000)}`,
];

let dir: string;
let cleanup: () => Promise<void>;
let server: Pop3ServerHandle;
let maildir: Maildir;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  const material = await loadTls(dir);
  await new AccountStore(dir).add('bob', 's3cret');
  maildir = Maildir.open(dir, 'bob');
  for (const m of MESSAGES) await maildir.deliver(Buffer.from(m, 'latin1'));
  server = await createPop3Server({ dataDir: dir, port: 0, tls: material, failedLoginDelayMs: 0 });
});
afterAll(async () => {
  await server?.close(500);
  await cleanup();
});

/** Run fetchmail once against our server; the delivery agent appends each message to `out`. */
async function fetchmail(password: string, out: string) {
  const mda = path.join(dir, 'mda.sh');
  await writeFile(mda, `#!/bin/sh\ncat >> '${out}'\nprintf '\\n==END==\\n' >> '${out}'\n`);
  await chmod(mda, 0o755);
  const rc = path.join(dir, 'fetchmailrc');
  // "localhost": fetchmail matches the certificate's DNS names only (not its IP addresses)
  await writeFile(
    rc,
    `poll localhost service ${server.port} protocol pop3 user bob password "${password}"` +
      ` sslproto "tls1.2+" sslcertck sslcertfile "${path.join(dir, 'tls', 'dev-cert.pem')}" mda "${mda}"\n`,
  );
  await chmod(rc, 0o600); // fetchmail refuses a readable rc file
  const r = await run(
    'fetchmail',
    ['-f', rc, '-N', '--nosyslog', '-v', '--idfile', path.join(dir, 'fetchids')],
    {
      env: { HOME: dir },
    },
  );
  // -v writes the conversation to stdout, warnings to stderr
  return { code: r.code, log: r.stdout + r.stderr };
}

describe('fetchmail against netkit pop3 serve', () => {
  it('is installed (Debian fetchmail)', async () => {
    expect(await have('fetchmail')).toBe(true);
  });

  it('a wrong password: fetchmail reports an authentication failure, nothing is touched', async () => {
    const r = await fetchmail('wrong', path.join(dir, 'nothing.txt'));
    expect(r.code, r.log).toBe(3); // fetchmail's PS_AUTHFAIL
    expect(r.log).toContain('POP3> STLS');
    expect((await maildir.list()).length).toBe(MESSAGES.length);
  });

  it('collects every message over STLS with a verified certificate, intact, then deletes them', async () => {
    const out = path.join(dir, 'collected.txt');
    const r = await fetchmail('s3cret', out);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toMatch(/POP3> STLS/);
    expect(r.log).not.toMatch(/verification error|certificate verify failed/);
    expect(r.log).toMatch(/3 messages deleted/);
    const delivered = (await readFile(out, 'latin1')).split('\n==END==\n').filter(Boolean);
    expect(delivered).toHaveLength(MESSAGES.length);
    // fetchmail adds its own Received: header and hands the agent LF line ends
    MESSAGES.forEach((m, i) => {
      expect(delivered[i]).toMatch(/^Received: from localhost/);
      expect(delivered[i]!.endsWith(m.replace(/\r\n/g, '\n'))).toBe(true);
    });
    expect(await readdir(path.join(maildir.dir, 'new'))).toEqual([]);
    expect(await readdir(path.join(maildir.dir, 'cur'))).toEqual([]);
  });
});
