/**
 * A disk that runs full: the SMTP server keeps `minFreeBytes` free under the Maildirs and answers
 * RFC 5321's temporary `452 4.3.1 Insufficient system storage` — at MAIL FROM (also when the
 * declared SIZE= would not fit), and at the end of DATA when the disk filled meanwhile or a write
 * failed with ENOSPC — so the client keeps the message and retries; nothing half-written stays.
 * Driven by Python's smtplib; the free space is injected, so no test fills a disk. And the cap on
 * mailboxes made on first delivery (`--max-mailboxes`), and on the state kept per mailbox.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MailStore } from '../../src/mail/smtp-delivery.js';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { run, startServe, tempDir } from '../helpers/net.js';
import { mailboxFiles, SmtpTestClient } from './smtp-test-client.js';

const MiB = 1024 * 1024;
const RESERVE = 10 * MiB;

let server: SmtpServerHandle;
let dir: string;
let cleanup: () => Promise<void>;
/** what the injected statfs reports; `dropAfter` calls later it falls to `low` */
let free = 1e12;
let dropAfter = Number.POSITIVE_INFINITY;
const low = RESERVE - 1;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-smtp-storage-'));
  server = await createSmtpServer({
    dataDir: dir,
    port: 0,
    tls: false,
    minFreeBytes: RESERVE,
    freeSpace: () => (dropAfter-- > 0 ? free : low),
  });
});
afterAll(async () => {
  await server?.close(100);
  await cleanup();
});

/** smtplib: send `size` bytes of body to bob; the reply code and text of whatever refused it. */
const SEND = String.raw`
import json, smtplib, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
msg = 'From: a@example.org\r\nTo: bob@lab\r\nSubject: disk\r\n\r\n' + ('x' * 70 + '\r\n') * (size // 72)
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
out = {}
try:
    s.sendmail('a@example.org', ['bob@lab'], msg)
    out['result'] = 'sent'
except smtplib.SMTPSenderRefused as e:
    out['result'] = 'mail-refused'; out['code'] = e.smtp_code; out['text'] = e.smtp_error.decode()
except smtplib.SMTPDataError as e:
    out['result'] = 'data-refused'; out['code'] = e.smtp_code; out['text'] = e.smtp_error.decode()
out['noop'] = s.noop()[0]
s.quit()
print(json.dumps(out))
`;

async function send(size: number): Promise<Record<string, unknown>> {
  const r = await run('python3', ['-c', SEND, String(server.port), String(size)]);
  if (r.code !== 0) throw new Error(`python3 exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('smtp serve below its free-space reserve, with smtplib', () => {
  it('refuses MAIL FROM with 452 4.3.1 while the disk is below the reserve; the session goes on', async () => {
    free = low;
    dropAfter = Number.POSITIVE_INFINITY;
    const r = await send(1000);
    expect(r).toMatchObject({ result: 'mail-refused', code: 452, noop: 250 });
    expect(r.text).toMatch(/^4\.3\.1 Insufficient system storage/);
    expect(await mailboxFiles(dir, 'bob')).toEqual([]);
  });

  it('counts the declared SIZE= against the reserve: a large message is refused, a small one stored', async () => {
    free = RESERVE + 5000;
    const big = await send(20_000);
    expect(big).toMatchObject({ result: 'mail-refused', code: 452 });
    const small = await send(1000);
    expect(small).toMatchObject({ result: 'sent', noop: 250 });
    expect(await mailboxFiles(dir, 'bob')).toHaveLength(1);
  });

  it('answers DATA 452 4.3.1 when the disk filled after MAIL FROM, and stores nothing', async () => {
    const before = await mailboxFiles(dir, 'bob');
    free = 1e12;
    dropAfter = 1; // MAIL FROM sees room, the check before delivery does not
    const r = await send(5000);
    expect(r).toMatchObject({ result: 'data-refused', code: 452, noop: 250 });
    expect(r.text).toMatch(/^4\.3\.1 /);
    expect(await mailboxFiles(dir, 'bob')).toEqual(before);
    expect(await mailboxFiles(dir, 'bob', 'tmp')).toEqual([]);
  });
});

describe('MailStore.deliver on a full disk', () => {
  const body = async function* () {
    yield Buffer.from('Subject: x\r\n\r\nhello\r\n');
  };

  it.each([
    ['ENOSPC', 452, '4.3.1'],
    ['EDQUOT', 452, '4.3.1'],
    ['EIO', 451, '4.3.0'],
  ])(
    'a %s from one copy is %i %s, and the copies already made are removed',
    async (code, reply, enhanced) => {
      const t = await tempDir('netkit-store-full-');
      try {
        const store = new MailStore(t.dir);
        vi.spyOn(store.maildir('carol'), 'deliver').mockRejectedValue(
          Object.assign(new Error(`${code}: write failed`), { code, syscall: 'write' }),
        );
        await expect(store.deliver(['bob', 'carol'], body())).rejects.toMatchObject({
          responseCode: reply,
          message: expect.stringMatching(new RegExp(`^${enhanced.replace(/\./g, '\\.')} `)),
        });
        expect(await readdir(path.join(t.dir, 'mail/bob/new'))).toEqual([]);
      } finally {
        await t.cleanup();
      }
    },
  );
});

/** smtplib: one message to every recipient given; what each refused one got, and the NOOP after. */
const SEND_TO = String.raw`
import json, smtplib, sys
port, rcpts = int(sys.argv[1]), sys.argv[2:]
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
try:
    refused = s.sendmail('a@example.org', rcpts, 'Subject: cap\r\n\r\nx\r\n')
except smtplib.SMTPRecipientsRefused as e:
    refused = e.recipients
print(json.dumps({'refused': {k: [v[0], v[1].decode()] for k, v in refused.items()}, 'noop': s.noop()[0]}))
s.quit()
`;

describe('smtp serve --max-mailboxes, with smtplib', () => {
  it('a recipient that would make one mailbox too many gets 452 4.3.1; existing ones and postmaster still receive', async () => {
    const t = await tempDir('netkit-smtp-mailboxes-');
    const serve = await startServe([
      'smtp',
      'serve',
      '--port',
      '0',
      '--no-tls',
      '--data',
      t.dir,
      '--max-mailboxes',
      '2',
    ]);
    const sendTo = async (...rcpts: string[]) => {
      const r = await run('python3', ['-c', SEND_TO, String(serve.listening[0]!.port), ...rcpts]);
      if (r.code !== 0) throw new Error(`python3 exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as { refused: Record<string, [number, string]>; noop: number };
    };
    try {
      expect(await sendTo('one@lab', 'two@lab')).toEqual({ refused: {}, noop: 250 });
      const third = await sendTo('three@lab', 'ONE@other.example', 'postmaster@lab');
      expect(third.refused).toEqual({
        'three@lab': [452, '4.3.1 <three@lab>: mailbox limit reached (2 mailboxes), try again later'],
      });
      expect(third.noop).toBe(250);
      expect(await sendTo('four@lab')).toMatchObject({ refused: { 'four@lab': [452, expect.any(String)] } });
      expect((await readdir(path.join(t.dir, 'mail'))).sort()).toEqual(['one', 'postmaster', 'two']);
      expect(await mailboxFiles(t.dir, 'one')).toHaveLength(2);
    } finally {
      await serve.stop();
      await t.cleanup();
    }
  });

  it('counts the mailboxes already on disk at start; 0 means no cap', async () => {
    const t = await tempDir('netkit-smtp-mailboxes-');
    try {
      const capped = await createSmtpServer({ dataDir: t.dir, port: 0, tls: false, maxMailboxes: 1 });
      const first = await SmtpTestClient.open(capped.port);
      expect((await first.client.sendMail('a@lab', ['old@lab'], 'Subject: x\r\n\r\nx')).code).toBe(250);
      await first.client.quit();
      await capped.close(100);
      const again = await createSmtpServer({ dataDir: t.dir, port: 0, tls: false, maxMailboxes: 1 });
      const second = await SmtpTestClient.open(again.port);
      expect((await second.client.sendMail('a@lab', ['new@lab'], 'Subject: x\r\n\r\nx')).last).toMatch(
        /^452 4\.3\.1 /,
      );
      await second.client.quit();
      await again.close(100);
      const open = await createSmtpServer({ dataDir: t.dir, port: 0, tls: false, maxMailboxes: 0 });
      const third = await SmtpTestClient.open(open.port);
      expect((await third.client.sendMail('a@lab', ['new@lab'], 'Subject: x\r\n\r\nx')).code).toBe(250);
      await third.client.quit();
      await open.close(100);
    } finally {
      await t.cleanup();
    }
  });
});

describe('MailStore keeps state for a bounded number of mailboxes', () => {
  it('a client writing to ever new local parts does not grow it; a dropped mailbox is still pruned', async () => {
    const t = await tempDir('netkit-store-kept-');
    try {
      const store = new MailStore(t.dir, { maxMessages: 1 });
      const body = async function* () {
        yield Buffer.from('Subject: x\r\n\r\nhello\r\n');
      };
      await store.deliver(['first'], body());
      for (let i = 0; i < 1100; i++) await store.retain(`random-${i}`);
      expect(store.keptMailboxes).toBeLessThanOrEqual(1000);
      // "first" was dropped: its next delivery lists it again and keeps the newest one
      await store.deliver(['first'], body());
      expect(await mailboxFiles(t.dir, 'first')).toHaveLength(1);
    } finally {
      await t.cleanup();
    }
  });
});
