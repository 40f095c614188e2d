import { describe, expect, it } from 'vitest';
import { parseMessage, summarize } from '../../src/lab/mail-index.js';
import type { MaildirEntry } from '../../src/mail/maildir.js';

const entry: MaildirEntry = { id: 'm1', file: '/x', folder: 'new', flags: '', size: 10, mtimeMs: 1_000 };

async function summary(headers: string) {
  return summarize('bob', entry, await parseMessage(Buffer.from(`${headers}\r\n\r\nbody\r\n`)));
}

describe('the dashboard summary reads From and Date as mail show does', () => {
  it('lists every From mailbox and keeps a group', async () => {
    expect((await summary('From: a@lab, "Q, R" <b@lab>')).from).toBe('a@lab, "Q, R" <b@lab>');
    expect((await summary('From: undisclosed-recipients:;')).from).toBe('undisclosed-recipients:;');
  });

  it('reads a zone-less Date as UTC and falls back to arrival for an impossible one', async () => {
    expect((await summary('Date: Mon, 2 Feb 2026 08:00:00')).date).toBe(Date.UTC(2026, 1, 2, 8));
    expect((await summary('Date: 31 Feb 2026 10:00:00 +0000')).date).toBe(entry.mtimeMs);
  });
});
