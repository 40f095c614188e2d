/**
 * `netkit mail show` against Python's email package (policy=default) as the reference parser, on the
 * same bytes: RFC 2047 encoded words — malformed ones included — in the subject, a display name and
 * an unstructured header, and the attachments of a multipart message sent unencoded (7bit, 8bit,
 * quoted-printable) as well as base64, with names from RFC 2231 continuations, traversal attempts,
 * no name at all and duplicates. What the user reads and what `--save-attachments` writes must be
 * what Python's email makes of the message.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, run, tempDir } from '../helpers/net.js';

const PY = '/usr/bin/python3';

/** Python's email: per file, the decoded headers and every attachment's name and bytes (hex). */
const PY_VIEW = `
import email, json, sys
from email import policy
out = []
for name in sys.argv[1:]:
    with open(name, 'rb') as f:
        m = email.message_from_binary_file(f, policy=policy.default)
    out.append({
        'headers': [[k, str(v)] for k, v in m.items()],
        'attachments': [{'filename': p.get_filename(), 'hex': (p.get_payload(decode=True) or b'').hex()}
                        for p in m.iter_attachments()],
    })
print(json.dumps(out))
`;

interface PyView {
  headers: Array<[string, string]>;
  attachments: Array<{ filename: string | null; hex: string }>;
}

async function python(files: string[]): Promise<PyView[]> {
  const r = await run(PY, ['-c', PY_VIEW, ...files]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

/** Encoded words as senders write them, good and broken. */
const WORDS = [
  '=?UTF-8?Q?caf=C3=A9_au?= lait',
  '=?UTF-8?B?SGVsbG8gV29ybGQ?=',
  '=?UTF-8?B?SGVsbG8===?=',
  '=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=',
  '=?UTF-8?B?SGVsbG8=?==?UTF-8?B?SGVsbG8=?=',
  '=?UTF-8?Q?a=Zb?=',
  '=?unknown-charset?Q?abc?=',
  '=?UTF-8?B?!!!?=',
  // one base64 character holds no byte: Python shows the text, which is not nothing
  '=?UTF-8?B?S?=',
  '=?UTF-8?B?S===?=',
  'x =?UTF-8?B?S?= y',
  '=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?S?=',
];

/**
 * Python keeps the space between two encoded words in a display name (`Hello S`), though RFC 2047
 * §6.2 says it goes, as it does in its own Subject (`HelloS`) and in ours: no From comparison there.
 */
const PYTHON_KEEPS_SPACE = /\?= +=\?/;

describe('mail show decodes header words as Python email does', () => {
  it.each(WORDS)('%s', async (word) => {
    const file = path.join(tmp.dir, `word-${WORDS.indexOf(word)}.eml`);
    await writeFile(
      file,
      `From: ${word} <a@lab>\r\nTo: b@lab\r\nSubject: ${word}\r\nX-Note: ${word}\r\n\r\nx\r\n`,
    );
    const [py] = await python([file]);
    const want = Object.fromEntries(py!.headers);
    const r = await netkit(['mail', 'show', file, '--json']);
    expect(r.code).toBe(0);
    const ours = JSON.parse(r.stdout);
    expect(ours.subject).toBe(want.Subject);
    expect(ours.headers.find((h: { name: string }) => h.name === 'X-Note').value).toBe(want['X-Note']);
    if (!PYTHON_KEEPS_SPACE.test(word)) expect(ours.from).toBe(want.From);
    // what a user reads (an empty value is not printed: the field is left out, as for no subject)
    const shown = await netkit(['mail', 'show', file]);
    if (want.Subject) expect(shown.stdout).toContain(`\nSubject:    ${want.Subject}\n`);
    else expect(shown.stdout).not.toContain('Subject:');
  });
});

/** A multipart/mixed message: a text body, then attachments encoded as the senders of each do. */
function multipart(parts: Array<{ headers: string[]; body: string }>): Buffer {
  const text = [
    'From: a@lab',
    'To: b@lab',
    'Subject: files',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b0"',
    '',
    '--b0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'see the files',
    ...parts.flatMap((p) => ['--b0', ...p.headers, '', p.body]),
    '--b0--',
    '',
  ].join('\r\n');
  return Buffer.from(text, 'utf8');
}

describe('mail show --save-attachments writes what Python email decodes', () => {
  it('text attachments end where the file ended (7bit, 8bit, QP), base64 ones are exact, names as sent', async () => {
    const msg = multipart([
      {
        // mutt / git: a patch that ends with a line break, sent as it is
        headers: ['Content-Type: text/x-diff', 'Content-Disposition: attachment; filename="fix.patch"'],
        body: '--- a\r\n+++ b\r\n',
      },
      {
        headers: [
          'Content-Type: text/plain; charset=utf-8',
          'Content-Disposition: attachment; filename="no-newline.txt"',
          'Content-Transfer-Encoding: 8bit',
        ],
        body: 'Grüße, no line break at the end',
      },
      {
        headers: [
          'Content-Type: text/csv',
          'Content-Disposition: attachment; filename="data.csv"',
          'Content-Transfer-Encoding: quoted-printable',
        ],
        body: 'a,b=0D=0Ac,d=0D=0A',
      },
      {
        headers: [
          'Content-Type: application/octet-stream',
          'Content-Disposition: attachment; filename="bin.dat"',
          'Content-Transfer-Encoding: base64',
        ],
        body: Buffer.from([0, 1, 2, 10, 10]).toString('base64'),
      },
      {
        headers: [
          'Content-Type: application/octet-stream',
          `Content-Disposition: attachment; filename*0*=utf-8''%C3%BCber%20lang; filename*1="er-name"; filename*2=".txt"`,
          'Content-Transfer-Encoding: base64',
        ],
        body: Buffer.from('rfc 2231\n').toString('base64'),
      },
      {
        headers: ['Content-Type: text/plain', 'Content-Disposition: attachment; filename="../../x"'],
        body: 'traversal',
      },
      {
        headers: ['Content-Type: application/pdf', 'Content-Disposition: attachment'],
        body: 'no name',
      },
      {
        headers: ['Content-Type: text/plain', 'Content-Disposition: attachment; filename="dup.txt"'],
        body: 'one',
      },
      {
        headers: ['Content-Type: text/plain', 'Content-Disposition: attachment; filename="dup.txt"'],
        body: 'two',
      },
    ]);
    const file = path.join(tmp.dir, 'files.eml');
    await writeFile(file, msg);
    const [py] = await python([file]);
    expect(py!.attachments).toHaveLength(9);

    const out = path.join(tmp.dir, 'saved');
    const r = await netkit(['mail', 'show', file, '--json', '--save-attachments', out]);
    expect(r.code).toBe(0);
    const ours = JSON.parse(r.stdout);
    const saved: Array<{ original: string | null; path: string }> = ours.saved;
    expect(saved.map((s) => s.original)).toEqual(py!.attachments.map((a) => a.filename));
    const bytes = await Promise.all(saved.map(async (s) => (await readFile(s.path)).toString('hex')));
    expect(bytes).toEqual(py!.attachments.map((a) => a.hex));
    expect(ours.attachments.map((a: { size: number }) => a.size)).toEqual(
      py!.attachments.map((a) => a.hex.length / 2),
    );
    // the names written are still the safe ones
    expect(saved.map((s) => path.basename(s.path))).toEqual([
      'fix.patch',
      'no-newline.txt',
      'data.csv',
      'bin.dat',
      'über langer-name.txt',
      'x',
      'attachment-7',
      'dup.txt',
      'dup-2.txt',
    ]);
  });
});
