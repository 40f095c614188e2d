/**
 * A hostile SMTP server that greets (or not) and then goes silent at one step: the sender's
 * timeout must name the server, the step that got no reply and the time waited — in the words of
 * the POP3 client (`no reply from HOST:PORT to STAT within N ms`) — never nodemailer's bare
 * "Timeout" or "Greeting never received". The code stays NETKIT_TIMEOUT.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendMail } from '../../src/mail/send.js';
import { netkit } from '../helpers/net.js';

type Step = 'greeting' | 'EHLO' | 'AUTH' | 'MAIL FROM' | 'RCPT TO' | 'DATA' | 'end of data';

interface Hostile {
  port: number;
  /** every command line received, in order */
  lines: string[];
  close(): Promise<void>;
}

const servers: Hostile[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server that answers like an MTA except at `silentAt`, where it says nothing and keeps the connection open. */
async function hostile(silentAt: Step, extensions: string[] = []): Promise<Hostile> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const say = (...reply: string[]) => {
      s.write(reply.map((l) => `${l}\r\n`).join(''));
    };
    if (silentAt !== 'greeting') say('220 hostile ESMTP');
    let buf = '';
    let inData = false;
    let silent = false;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          lines.push(line);
          if (silentAt !== 'end of data') say('250 2.0.0 queued');
          continue;
        }
        lines.push(line);
        const verb = /^(EHLO|HELO|AUTH|MAIL FROM|RCPT TO|DATA|QUIT)\b/i.exec(line)?.[1]?.toUpperCase();
        // from the step on it says nothing more, as a server that hangs would
        if (verb === silentAt) silent = true;
        if (silent) continue;
        switch (verb) {
          case 'EHLO':
            say(
              ...['hostile', ...extensions].map((e, n, all) => `250${n === all.length - 1 ? ' ' : '-'}${e}`),
            );
            break;
          case 'DATA':
            inData = true;
            say('354 go ahead');
            break;
          case 'AUTH':
            say('235 2.7.0 ok');
            break;
          case 'QUIT':
            say('221 bye');
            s.end();
            break;
          default:
            say('250 ok');
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const h: Hostile = {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
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
