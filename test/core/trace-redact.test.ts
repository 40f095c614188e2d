/**
 * Secrets never reach a trace: `redactCommand` hides everything after PASS, `AUTH <mechanism>`
 * and `APOP <user>`, whatever the secret contains. A bare CR, a Unicode line separator or any
 * other character `.` does not match used to make the whole line slip through unredacted (found by
 * `npm run fuzz`).
 */
import { describe, expect, it } from 'vitest';
import { formatTrace, redactCommand } from '../../src/core/trace.js';

describe('redactCommand', () => {
  it.each([
    ['PASS hunter2', 'PASS ****'],
    ['pass hunter2', 'pass ****'],
    ['  PASS  a b c', '  PASS  ****'],
    ['PASS secret\r', 'PASS ****'],
    ['PASS sec\rret', 'PASS ****'],
    ['PASS sec\u2028ret', 'PASS ****'],
    ['PASS sec\u2029ret\n', 'PASS ****'],
    ['PASS\rsecret', 'PASS\r****'],
    ['AUTH PLAIN AHVzZXIAcGFzcw==', 'AUTH PLAIN ****'],
    ['AUTH PLAIN AHVzZXIAcGFzcw==\r', 'AUTH PLAIN ****'],
    ['AUTH .odd *\r', 'AUTH .odd ****'],
    ['APOP bob c4c9334bac560ecc979e58001b3e22fb', 'APOP bob ****'],
    // FTP's ACCT carries a second password on some sites
    ['ACCT s3cret', 'ACCT ****'],
  ])('%j → %j', (line, shown) => {
    expect(redactCommand(line)).toBe(shown);
  });

  it('leaves other commands and a bare PASS alone', () => {
    for (const line of ['USER bob', 'PASS', 'AUTH PLAIN', 'PASSWORD x', 'RETR 1', 'STOR passwords.txt'])
      expect(redactCommand(line)).toBe(line);
  });
});

describe('formatTrace', () => {
  it("shows a peer's control characters escaped instead of handing them to the terminal", () => {
    const ev = {
      service: 'smtp',
      conn: 4,
      kind: 'in' as const,
      text: 'NOOP \x1b]0;PWNED\x07\x1b[2J\rX',
      ts: 0,
    };
    expect(formatTrace(ev)).toBe('[smtp#4] C: NOOP \\x1b]0;PWNED\\x07\\x1b[2J\\x0dX');
    expect(formatTrace({ ...ev, text: '220 hi \u202eexe.jpg' }, 'client')).toBe(
      '[smtp#4] S: 220 hi \\u202eexe.jpg',
    );
    expect(formatTrace({ ...ev, kind: 'connect', text: '', peer: 'a\x1bb' })).toBe(
      '[smtp#4] * connect a\\x1bb',
    );
  });
});
