/**
 * fetchMessages() with large messages: each message is streamed to its file (so a message larger
 * than the client's `maxBodyBytes` is fetched, verified and deleted like any other), the RETRs in
 * flight stay within `windowBytes` by their LIST sizes, and a connection lost in the middle of a
 * message leaves no file, no temp file and no DELE behind.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pop3Client } from '../../src/mail/pop3-client.js';
import { FETCH_STATE_FILE, fetchMessages } from '../../src/mail/pop3-client-fetch.js';
import { tempDir } from '../helpers/net.js';
import {
  type FakeMessage,
  fakePop3,
  header,
  messageHash,
  messageParts,
  messageSize,
  textBlock,
} from './pop3-client-fake.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(
  messages: FakeMessage[],
  opts: Parameters<typeof fakePop3>[1] = {},
  maxBodyBytes?: number,
) {
  const fake = await fakePop3(messages, opts);
  const tmp = await tempDir();
  const client = await Pop3Client.connect({ port: fake.port, maxBodyBytes });
  cleanups.push(async () => {
    client.close();
    await fake.close();
    await tmp.cleanup();
  });
  await client.login('bob', 'pw');
  return { fake, tmp, client };
}

const sha = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** A message of `count` × 65,600 octets of text lines after a header with `subject`. */
const big = (count: number, subject: string): FakeMessage => ({
  head: header(subject, `Sender <${subject}@lab>`),
  block: textBlock(800, 80, subject),
  count,
});

describe('fetchMessages with large messages', () => {
  it.each(['eml', 'maildir'] as const)(
    '%s: messages over maxBodyBytes are streamed to disk, verified and deleted',
    async (format) => {
      const messages = [big(1, 'small'), big(40, 'large'), big(3, 'middle')]; // 65 kB, 2.6 MB, 197 kB
      const { fake, tmp, client } = await setup(messages, {}, 128 * 1024);
      const r = await fetchMessages(client, {
        out: tmp.dir,
        format,
        delete: true,
        account: 'a',
        summaryMaxBytes: 1024 * 1024,
      });
      await client.quit();
      expect(r.messages.map((m) => [m.n, m.size, m.verified, m.deleted])).toEqual(
        messages.map((m, i) => [i + 1, messageSize(m), true, true]),
      );
      expect(fake.commands.filter((c) => c.startsWith('DELE'))).toEqual(['DELE 1', 'DELE 2', 'DELE 3']);
      for (const [i, m] of r.messages.entries()) {
        expect(await sha(m.file)).toBe(messageHash(messages[i]!));
        expect((await stat(m.file)).mode & 0o777).toBe(0o600);
      }
      // the one over summaryMaxBytes: its header read, its body not parsed
      expect(r.messages.map((m) => [m.subject, m.from, m.headerOnly])).toEqual([
        ['small', 'Sender <small@lab>', undefined],
        ['large', 'Sender <large@lab>', true],
        ['middle', 'Sender <middle@lab>', undefined],
      ]);
      const state = JSON.parse(await readFile(path.join(tmp.dir, FETCH_STATE_FILE), 'utf8'));
      expect(state.accounts.a.saved['uid-2'].size).toBe(messageSize(messages[1]!));
      // nothing left over: no .part file, an empty Maildir tmp/
      if (format === 'eml')
        expect((await readdir(tmp.dir)).filter((f) => f.startsWith('.') && f !== FETCH_STATE_FILE)).toEqual(
          [],
        );
      else expect(await readdir(path.join(tmp.dir, 'tmp'))).toEqual([]);
    },
  );

  it('keeps the RETRs in flight within windowBytes by LIST size (always at least one)', async () => {
    const messages = Array.from({ length: 12 }, (_, i) => big(3, `m${i + 1}`)); // about 197 kB each
    messages.splice(6, 0, big(30, 'huge')); // 2 MB: over the budget on its own
    let saved = 0;
    let received = 0;
    let maxInFlight = 0;
    const { tmp, client } = await setup(messages, {
      // RETRs the client sent for messages it has not saved yet
      onRetr: () => {
        received++;
        maxInFlight = Math.max(maxInFlight, received - saved);
      },
    });
    const r = await fetchMessages(client, {
      out: tmp.dir,
      windowBytes: 1_000_000,
      summaryMaxBytes: 0, // headers only: parsing every body would only slow the test
      onMessage: () => saved++,
    });
    await client.quit();
    expect(r.messages.map((m) => m.verified)).toEqual(messages.map(() => true));
    expect(maxInFlight).toBe(5); // 5 × 197 kB fit in 1,000,000 octets, 6 do not
    // the same with a small budget: one at a time
    saved = 0;
    received = 0;
    maxInFlight = 0;
    const again = await Pop3Client.connect({ port: client.port });
    cleanups.push(async () => again.close());
    await again.login('bob', 'pw');
    await fetchMessages(again, {
      out: path.join(tmp.dir, 'again'),
      windowBytes: 1,
      summaryMaxBytes: 0,
      onMessage: () => saved++,
    });
    await again.quit();
    expect(maxInFlight).toBe(1);
  });

  it.each(['eml', 'maildir'] as const)(
    '%s: a connection lost in the middle of a large message leaves no file and deletes nothing of it',
    async (format) => {
      const messages = [big(2, 'first'), big(40, 'cut')];
      const { fake, tmp, client } = await setup(messages, { dieIn: { n: 2, after: 1_000_000 } });
      const err = await fetchMessages(client, { out: tmp.dir, format, delete: true, account: 'a' }).catch(
        (e) => e,
      );
      expect(err.code).toBe('NETKIT_PROTOCOL');
      expect(err.message).toMatch(/in the middle of the reply to RETR 2/);
      // DELE 1 may or may not have reached the server before it died; DELE 2 was never sent
      expect(fake.commands).not.toContain('DELE 2');
      expect(fake.commands).not.toContain('QUIT');
      const state = JSON.parse(await readFile(path.join(tmp.dir, FETCH_STATE_FILE), 'utf8'));
      expect(state.accounts.a.uids).toEqual(['uid-1']);
      if (format === 'eml') {
        expect((await readdir(tmp.dir)).sort()).toEqual([FETCH_STATE_FILE, 'uid-1.eml']);
      } else {
        expect(await readdir(path.join(tmp.dir, 'tmp'))).toEqual([]);
        expect(await readdir(path.join(tmp.dir, 'new'))).toHaveLength(1);
      }
    },
  );

  it('a re-fetch recognises a large saved copy by its content, block by block', async () => {
    const messages = [big(20, 'same'), big(20, 'other')];
    const { tmp, client } = await setup(messages);
    const first = await fetchMessages(client, { out: tmp.dir, summaryMaxBytes: 0 });
    // the same name holding different bytes of the same size must not count as the same message
    const other = Buffer.concat([...messageParts(messages[1]!)]);
    await writeFile(
      path.join(tmp.dir, 'uid-2.eml'),
      Buffer.concat([other.subarray(0, -3), Buffer.from('!\r\n')]),
    );
    const second = await fetchMessages(client, { out: tmp.dir, summaryMaxBytes: 0 });
    await client.quit();
    expect(second.messages.map((m) => path.basename(m.file))).toEqual(['uid-1.eml', 'uid-2-2.eml']);
    expect(second.messages[0]!.file).toBe(first.messages[0]!.file);
    expect(await sha(path.join(tmp.dir, 'uid-2-2.eml'))).toBe(messageHash(messages[1]!));
  });
});
