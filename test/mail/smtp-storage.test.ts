/**
 * A disk that runs full: the SMTP server keeps `minFreeBytes` free under the Maildirs and answers
 * RFC 5321's temporary `452 4.3.1 Insufficient system storage` — at MAIL FROM (also when the
 * declared SIZE= would not fit), and at the end of DATA when the disk filled meanwhile or a write
 * failed with ENOSPC — so the client keeps the message and retries; nothing half-written stays.
 * Driven by Python's smtplib; the free space is injected, so no test fills a disk.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MailStore } from '../../src/mail/smtp-delivery.js';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { run, tempDir } from '../helpers/net.js';
import { mailboxFiles } from './smtp-test-client.js';

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
