/**
 * A hostile SMTP server that greets (or not) and then goes silent at one step: the sender's
 * timeout must name the server, the step that got no reply and the time waited — in the words of
 * the POP3 client (`no reply from HOST:PORT to STAT within N ms`) — never nodemailer's bare
 * "Timeout" or "Greeting never received". The code stays NETKIT_TIMEOUT.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sendMail } from '../../src/mail/send.js';
import { type Hostile, type SilentStep, hostile as silentAt } from '../helpers/hostile-smtp.js';
import { netkit } from '../helpers/net.js';

const servers: Hostile[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** {@link silentAt} on a server closed after each test. */
async function hostile(step: SilentStep, extensions: string[] = []): Promise<Hostile> {
  const h = await silentAt(step, extensions);
  servers.push(h);
  return h;
}

const message = { from: 'alice@lab', to: 'bob@lab', subject: 'hi', text: 'hello', timeoutMs: 300 };

describe('mail send against a server that goes silent', () => {
  for (const step of ['greeting', 'EHLO', 'MAIL FROM', 'RCPT TO', 'DATA', 'end of data'] as const) {
    it(`names the unanswered ${step}`, async () => {
      const h = await hostile(step);
      const err = await sendMail({ ...message, port: h.port }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'NETKIT_TIMEOUT',
        message:
          step === 'greeting'
            ? `no greeting from 127.0.0.1:${h.port} within 300 ms`
            : `no reply from 127.0.0.1:${h.port} to ${step} within 300 ms`,
      });
    });
  }

  it('names AUTH', async () => {
    const h = await hostile('AUTH', ['AUTH PLAIN']);
    const err = await sendMail({ ...message, port: h.port, user: 'alice', password: 'pw' }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'NETKIT_TIMEOUT',
      message: `no reply from 127.0.0.1:${h.port} to AUTH within 300 ms`,
    });
  });

  it('with PIPELINING, names the first command of the batch left unanswered', async () => {
    const h = await hostile('RCPT TO', ['PIPELINING']);
    const err = await sendMail({ ...message, port: h.port }).catch((e: unknown) => e);
    // MAIL FROM, RCPT TO and DATA went out together; MAIL FROM was answered, RCPT TO was not
    expect(h.lines.slice(1)).toEqual(['MAIL FROM:<alice@lab>', 'RCPT TO:<bob@lab>', 'DATA']);
    expect(err).toMatchObject({
      code: 'NETKIT_TIMEOUT',
      message: `no reply from 127.0.0.1:${h.port} to RCPT TO within 300 ms`,
    });
  });

  it('netkit mail send prints one line naming server, step and time', async () => {
    const h = await hostile('MAIL FROM');
    const flags = '--timeout 300ms --from alice@lab --to bob@lab --text hello'.split(' ');
    const r = await netkit(['mail', 'send', '--server', `127.0.0.1:${h.port}`, ...flags]);
    expect(r.stderr).toBe(`netkit: no reply from 127.0.0.1:${h.port} to MAIL FROM within 300 ms\n`);
    expect(r.code).toBe(1);
  });
});
