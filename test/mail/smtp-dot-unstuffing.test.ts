/**
 * The DATA parser as smtp-tweaks.ts leaves it: every leading dot of a line is removed (RFC 5321
 * §4.5.2), only CRLF.CRLF ends the message, and the result does not depend on how TCP cut the
 * bytes into chunks: every case is fed whole and split at every position.
 */
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { describe, expect, it } from 'vitest';
import '../../src/mail/smtp-tweaks.js';

/** Feed `chunks` after DATA; the message text and the commands parsed after its end. */
async function receive(chunks: Buffer[]): Promise<{ text: string; after: string[] }> {
  const parser = new SMTPStream();
  const after: string[] = [];
  parser.oncommand = (command, callback) => {
    after.push(command.toString('latin1'));
    callback?.();
  };
  const data = parser.startDataMode();
  const parts: Buffer[] = [];
  data.on('data', (d: Buffer) => parts.push(d));
  // as smtp-server does once the message is handled: parse what came behind the final dot
  data.on('end', () => parser.continue());
  for (const chunk of chunks) {
    await new Promise<void>((resolve, reject) =>
      parser.write(chunk, (err) => (err ? reject(err) : resolve())),
    );
  }
  await new Promise<void>((resolve) => parser.end(resolve));
  return { text: Buffer.concat(parts).toString('latin1'), after };
}

const CASES: Array<[string, string, string, string[]]> = [
  // [what, bytes after DATA, message text, commands after it]
  ['a stuffed dot line', 'a\r\n..b\r\n.\r\nNOOP\r\n', 'a\r\n.b\r\n', ['NOOP']],
  ['an unstuffed dot line loses its dot', 'a\r\n.b\r\n.\r\nNOOP\r\n', 'a\r\nb\r\n', ['NOOP']],
  ['an unstuffed first line loses its dot', '.b\r\nc\r\n.\r\n', 'b\r\nc\r\n', []],
  ['a stuffed first line', '..b\r\n.\r\n', '.b\r\n', []],
  ['a stuffed lone dot as the first line', '..\r\n.\r\nQUIT\r\n', '.\r\n', ['QUIT']],
  ['a dot and a space', 'a\r\n. \r\n.\r\n', 'a\r\n \r\n', []],
  ['three dots', 'a\r\n...\r\n.\r\n', 'a\r\n..\r\n', []],
  ['several dot lines in a row', '.x\r\n.y\r\n..z\r\n.\r\n', 'x\r\ny\r\n.z\r\n', []],
  ['an empty message', '.\r\nNOOP\r\n', '', ['NOOP']],
  ['no dots at all', 'Subject: s\r\n\r\nhello\r\n.\r\n', 'Subject: s\r\n\r\nhello\r\n', []],
  ['a second transaction behind the first', '.x\r\n.\r\nMAIL FROM:<a@b>\r\n', 'x\r\n', ['MAIL FROM:<a@b>']],
];

describe('DATA dot-unstuffing (RFC 5321 §4.5.2)', () => {
  it.each(CASES)('%s: in one chunk', async (_what, input, text, after) => {
    expect(await receive([Buffer.from(input, 'latin1')])).toEqual({ text, after });
  });

  it.each(CASES)('%s: split at every position, and byte by byte', async (_what, input, text, after) => {
    const bytes = Buffer.from(input, 'latin1');
    for (let cut = 1; cut < bytes.length; cut++) {
      const got = await receive([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(got, `cut at ${cut}`).toEqual({ text, after });
    }
    const oneByOne = [...bytes].map((b) => Buffer.from([b]));
    expect(await receive(oneByOne)).toEqual({ text, after });
  });
});
