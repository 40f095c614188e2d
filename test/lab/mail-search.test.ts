import { describe, expect, it } from 'vitest';
import { type MessageSummary, matches, parseSearch, tokenize } from '../../src/lab/mail-search.js';

const msg = (over: Partial<MessageSummary> = {}): MessageSummary => ({
  mailbox: 'bob',
  id: '1',
  from: 'Alice <alice@example.org>',
  to: ['bob@lab'],
  cc: ['carol@lab'],
  subject: 'Quarterly report',
  date: Date.parse('2026-03-10T12:00:00Z'),
  received: Date.parse('2026-03-10T12:00:05Z'),
  size: 100,
  attachments: 1,
  read: false,
  haystack: 'alice@example.org bob@lab quarterly report numbers attached',
  snippet: '',
  ...over,
});

describe('tokenize', () => {
  it('keeps quoted groups', () => {
    expect(tokenize('subject:"a b" x -"c d"')).toEqual(['subject:"a b"', 'x', '-"c d"']);
  });
});

describe('parseSearch + matches', () => {
  const cases: Array<[string, Partial<MessageSummary>, boolean]> = [
    ['from:alice', {}, true],
    ['from:mallory', {}, false],
    ['to:carol', {}, true],
    ['subject:"quarterly report"', {}, true],
    ['subject:"weekly report"', {}, false],
    ['has:attachment', {}, true],
    ['has:attachment', { attachments: 0 }, false],
    ['is:unread', {}, true],
    ['is:read', {}, false],
    ['is:read', { read: true }, true],
    ['before:2026-04-01', {}, true],
    ['before:2026-03-01', {}, false],
    ['after:2026-03-01', {}, true],
    ['after:2026-04-01', {}, false],
    ['numbers', {}, true],
    ['NUMBERS', {}, true],
    ['-numbers', {}, false],
    ['from:alice -has:attachment', {}, false],
    ['from:alice is:unread numbers', {}, true],
    ['', {}, true],
    ['before:notadate', {}, false],
    // delivery time, not the Date header (a spam-style Date from 1999, a clock far ahead)
    ['after:2026-03-01', { date: Date.parse('1999-01-01T00:00:00Z') }, true],
    ['before:2026-04-01', { date: Date.parse('2030-01-01T00:00:00Z') }, true],
    ['after:2026-03-11', { date: Date.parse('2026-03-12T00:00:00Z') }, false],
    ['cc:carol', {}, true],
    ['cc:bob', {}, false],
    ['larger:50', {}, true],
    ['larger:1k', {}, false],
    ['smaller:1k', {}, true],
    ['larger:1k', { size: 2048 }, true],
    ['smaller:1.5kb', { size: 2048 }, false],
    ['larger:2m', { size: 3 * 1024 * 1024 }, true],
    ['larger:lots', {}, false],
  ];
  for (const [q, over, expected] of cases) {
    it(`${q || '(empty)'} → ${expected}`, () => expect(matches(parseSearch(q), msg(over))).toBe(expected));
  }
});
