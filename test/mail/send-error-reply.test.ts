/**
 * A refused send tells a library user what the server said, typed: an `SmtpSendError` with the
 * reply code (5xx: give up; 4xx: try again later, RFC 5321 §4.2.1), the reply and the command it
 * answered — what nodemailer users read from `responseCode`, and what was reachable before only
 * through an untyped `cause`. Failures without a reply carry none.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { NetkitError } from '../../src/core/errors.js';
import { SmtpSendError, sendMail } from '../../src/mail/send.js';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let strict: SmtpServerHandle;
let full: SmtpServerHandle;

beforeAll(async () => {
  tmp = await tempDir('netkit-send-error-');
  await new AccountStore(tmp.dir).add('bob', 'pw');
  // strict: only accounts are recipients, so an unknown one gets 550 5.1.1
  strict = await createSmtpServer({ dataDir: tmp.dir, port: 0, tls: false, strict: true });
  // a disk below the free-space reserve: the server refuses for now, with a 4xx
  full = await createSmtpServer({ dataDir: tmp.dir, port: 0, tls: false, freeSpace: () => 0 });
});
afterAll(async () => {
  await Promise.all([strict.close(100), full.close(100)]);
  await tmp.cleanup();
});

async function failure(p: Promise<unknown>): Promise<SmtpSendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SmtpSendError);
  expect(err).toBeInstanceOf(NetkitError);
  return err as SmtpSendError;
}

const message = { from: 'alice@lab', text: 'hi' };

/** A loopback port nothing listens on: one that was just listened on and closed. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('sendMail failures carry the server reply', () => {
  it('a permanent refusal: 550 to RCPT TO', async () => {
    const err = await failure(sendMail({ ...message, to: ['nobody@lab'], port: strict.port }));
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.smtpCode).toBe(550);
    expect(err.response).toMatch(/^550 5\.1\.1 <nobody@lab>/);
    expect(err.command).toBe('RCPT TO');
    expect(err.message).toContain('550 5.1.1');
  });

  it('a temporary refusal: a 4xx reply code', async () => {
    const err = await failure(sendMail({ ...message, to: ['bob@lab'], port: full.port }));
    expect(err.smtpCode).toBeGreaterThanOrEqual(400);
    expect(err.smtpCode).toBeLessThan(500);
    expect(err.response).toMatch(/^4\d\d /);
  });

  it('no reply at all: a refused connection', async () => {
    const err = await failure(sendMail({ ...message, to: ['bob@lab'], port: await closedPort() }));
    expect(err.code).toBe('NETKIT_CONNECT_FAILED');
    expect([err.smtpCode, err.response, err.command]).toEqual([undefined, undefined, undefined]);
  });
});
