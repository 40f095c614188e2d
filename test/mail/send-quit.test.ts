/**
 * Our sender ends every session it can with QUIT and waits for the 221 (RFC 5321 §4.1.1.10), after a
 * delivered message and after an error reply alike; nodemailer's transport just closes the socket,
 * which servers log as a lost connection. Checked from the server's side: our SMTP server's trace of
 * the session holds the QUIT and the 221 by the time the send has resolved or rejected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { sendMail } from '../../src/mail/send.js';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { hostile } from '../helpers/hostile-smtp.js';
import { tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: SmtpServerHandle;
const traces: TraceEvent[] = [];

beforeAll(async () => {
  tmp = await tempDir('netkit-send-quit-');
  await new AccountStore(tmp.dir).add('bob', 'pw');
  // strict: only accounts are recipients, so an unknown one gets 550 5.1.1
  server = await createSmtpServer({
    dataDir: tmp.dir,
    port: 0,
    tls: false,
    strict: true,
    authFailureDelay: 0,
  });
  server.on('trace', (ev: TraceEvent) => traces.push(ev));
});
afterAll(async () => {
  await server.close(100);
  await tmp.cleanup();
});

/** The last session's lines as the server saw them: `C: …` in, `S: …` out. */
function lastSession(): string[] {
  const conn = traces.filter((t) => t.kind === 'connect').at(-1)!.conn;
  return traces
    .filter((t) => t.conn === conn && (t.kind === 'in' || t.kind === 'out'))
    .map((t) => `${t.kind === 'in' ? 'C' : 'S'}: ${t.text}`);
}

describe('mail send ends the session with QUIT', () => {
  it('after a delivered message: QUIT is the last command, answered with 221', async () => {
    const r = await sendMail({ from: 'alice@lab', to: ['bob@lab'], text: 'hi', port: server.port });
    expect(r.accepted).toEqual(['bob@lab']);
    const lines = lastSession();
    expect(lines.filter((l) => l.startsWith('C: ')).at(-1)).toBe('C: QUIT');
    expect(lines.at(-1)).toMatch(/^S: 221 /);
  });

  it('after an error reply (550 to the only recipient): QUIT too, and the error is still reported', async () => {
    const err = await sendMail({
      from: 'alice@lab',
      to: ['nobody@lab'],
      text: 'hi',
      port: server.port,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/550/);
    const lines = lastSession();
    expect(lines).toContain('C: QUIT');
    expect(lines.at(-1)).toMatch(/^S: 221 /);
  });

  it('after a failed login (535): QUIT, and the login failure is reported', async () => {
    const err = await sendMail({
      from: 'alice@lab',
      to: ['bob@lab'],
      text: 'hi',
      port: server.port,
      user: 'bob',
      password: 'wrong',
    }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/535/);
    const lines = lastSession();
    expect(lines.some((l) => l.startsWith('C: MAIL'))).toBe(false);
    expect(lines.at(-1)).toMatch(/^S: 221 /);
  });

  it('a server that never answers QUIT does not hold the outcome back (it is known already)', async () => {
    // a server that takes the message and then ignores QUIT, keeping the connection
    const silent = await hostile('QUIT');
    try {
      const r = await sendMail({
        from: 'alice@lab',
        to: ['bob@lab'],
        text: 'hi',
        port: silent.port,
        ignoreTLS: true,
        // waiting this long for the 221 would outlast the test
        timeoutMs: 600_000,
      });
      expect(r.accepted).toEqual(['bob@lab']);
      expect(silent.lines.at(-1)).toBe('QUIT');
    } finally {
      await silent.close();
    }
  }, 20_000);
});
