/**
 * `netkit mail show` against Python's email package (policy=default) as the reference parser, on the
 * same bytes: RFC 2047 encoded words — malformed ones included — in the subject, a display name and
 * an unstructured header, and the attachments of a multipart message sent unencoded (7bit, 8bit,
 * quoted-printable) as well as base64, with names from RFC 2231 continuations, traversal attempts,
 * no name at all and duplicates, and those of a forwarded message (an inline message/rfc822 part,
 * forwarded twice). What the user reads and what `--save-attachments` writes must be
 * what Python's email makes of the message.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailDate } from '../../src/mail/rfc5322-date.js';
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
        # every attachment at any depth, those of forwarded (message/rfc822) messages included
        'nested': [{'filename': p.get_filename(), 'hex': (p.get_payload(decode=True) or b'').hex()}
                   for p in m.walk() if p.get_content_disposition() == 'attachment'],
    })
print(json.dumps(out))
`;

interface PyView {
  headers: Array<[string, string]>;
  attachments: Array<{ filename: string | null; hex: string }>;
  nested: Array<{ filename: string | null; hex: string }>;
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
function multipart(parts: Array<{ headers: string[]; body: string }>, boundary = 'b0'): Buffer {
  const text = [
    'From: a@lab',
    'To: b@lab',
    'Subject: files',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'see the files',
    ...parts.flatMap((p) => [`--${boundary}`, ...p.headers, '', p.body]),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(text, 'utf8');
}

/** Text attachments sent unencoded and quoted-printable, where postal-mime adds a line break. */
const TEXT_PARTS = (tag: string) => [
  {
    headers: ['Content-Type: text/x-diff', `Content-Disposition: attachment; filename="${tag}.patch"`],
    body: '--- a\r\n+++ b\r\n',
  },
  {
    headers: ['Content-Type: text/plain', `Content-Disposition: attachment; filename="${tag}.txt"`],
    body: 'no line break at the end',
  },
  {
    headers: [
      'Content-Type: text/csv',
      `Content-Disposition: attachment; filename="${tag}.csv"`,
      'Content-Transfer-Encoding: quoted-printable',
    ],
    body: 'a,b=0D=0Ac,d=0D=0A',
  },
];

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

  it('so do the attachments of a forwarded message, and of one forwarded inside that', async () => {
    const innermost = multipart(TEXT_PARTS('deep'), 'b2').toString('utf8');
    const inner = multipart(
      [...TEXT_PARTS('inner'), { headers: ['Content-Type: message/rfc822'], body: innermost }],
      'b1',
    ).toString('utf8');
    const msg = multipart([
      { headers: ['Content-Type: message/rfc822', 'Content-Disposition: inline'], body: inner },
    ]);
    const file = path.join(tmp.dir, 'forwarded.eml');
    await writeFile(file, msg);
    const [py] = await python([file]);
    expect(py!.nested.map((a) => a.filename)).toEqual([
      'inner.patch',
      'inner.txt',
      'inner.csv',
      'deep.patch',
      'deep.txt',
      'deep.csv',
    ]);

    const out = path.join(tmp.dir, 'saved-forwarded');
    const r = await netkit(['mail', 'show', file, '--json', '--save-attachments', out]);
    expect(r.code).toBe(0);
    const saved: Array<{ original: string | null; path: string }> = JSON.parse(r.stdout).saved;
    expect(saved.map((s) => s.original)).toEqual(py!.nested.map((a) => a.filename));
    const bytes = await Promise.all(saved.map(async (s) => (await readFile(s.path)).toString('hex')));
    expect(bytes).toEqual(py!.nested.map((a) => a.hex));
    // the forwarded text is still shown inline, as postal-mime shows it
    expect((await netkit(['mail', 'show', file])).stdout).toContain('see the files');
  });
});

/** Python's reading of each Date value: the instant in ISO form (a naive one as UTC), or null. */
const PY_DATES = `
import json, sys
from datetime import timezone
from email.utils import parsedate_to_datetime
out = []
for v in json.loads(sys.stdin.read()):
    try:
        d = parsedate_to_datetime(v)
        d = d if d.tzinfo else d.replace(tzinfo=timezone.utc)
        out.append(d.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z'))
    except (TypeError, ValueError, IndexError):
        out.append(None)
print(json.dumps(out))
`;

const DATES = [
  'Tue, 1 Sep 2026 10:00:00 +0200',
  'Tue,1 Sep 2026 10:00:00 +0000',
  '1 Sep 2026 10:00 -0430',
  'Sep 1 2026 10:00:00 +0000',
  'Tuesday, 01-Sep-26 10:00:00 GMT',
  'Tue, 1 Sep 26 10:00:00 EST',
  'Tue, 1 Sep 99 10:00:00 PDT',
  'Tue, 1 Sep 2026 10:00:00 Z',
  'Tue, 1 Sep 2026 10:00:00 +0000 (UTC)',
  'Tue, 1 Sep 2026 10.00.00 +0000',
  'Tue, 1 Sep 2026 10:00:00+0100',
  'Tue, 29 Feb 2028 10:00:00 +0000',
  // no zone, -0000 and an unknown zone name: UTC (RFC 5322 §4.3), not the reader's local time
  'Tue, 1 Sep 2026 10:00:00',
  'Tue, 1 Sep 2026 10:00:00 -0000',
  'Tue, 1 Sep 2026 10:00:00 CET',
  // no date at all: V8 reads the first three as 3 March, 1 January 2001 and 1 December 2001
  'Tue, 31 Feb 2026 10:00:00 +0000',
  '1',
  'foo 12',
  'Fri, 29 Feb 2030 10:00:00 +0000',
  '1 Sep 2026 24:00:00 +0000',
  '1 Sep 2026 10:00:60 +0000',
  'Tue, 1 Sep 2026 10:00:00 +9999',
  'Tue, 1 Sep 99999 10:00:00 +0000',
  'yesterday at noon',
  '2026-09-01T10:00:00Z',
  '',
];

describe('Date and From as Python email reads them', () => {
  it('parseMailDate gives the instant Python gives, and none where Python finds no date', async () => {
    const py = await run(PY, ['-c', PY_DATES], { input: JSON.stringify(DATES) });
    expect(py.stderr).toBe('');
    const want: Array<string | null> = JSON.parse(py.stdout);
    expect(DATES.map((d) => parseMailDate(d)?.toISOString() ?? null)).toEqual(want);
  });

  it('mail show: a date that is none is shown as written, one without a zone the same in every TZ', async () => {
    const file = (name: string, date: string) => {
      const f = path.join(tmp.dir, `${name}.eml`);
      return writeFile(f, `From: a@lab\r\nDate: ${date}\r\nSubject: s\r\n\r\nx\r\n`).then(() => f);
    };
    const feb = await file('feb-31', 'Tue, 31 Feb 2026 10:00:00 +0000');
    const noZone = await file('no-zone', 'Tue, 1 Sep 2026 10:00:00');
    const shown = await netkit(['mail', 'show', feb]);
    expect(shown.stdout).toContain('\nDate:       Tue, 31 Feb 2026 10:00:00 +0000\n');
    for (const TZ of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
      const r = await netkit(['mail', 'show', noZone, '--json'], { env: { TZ } });
      expect(JSON.parse(r.stdout).date).toBe('2026-09-01T10:00:00.000Z');
    }
  });

  it('mail show: every mailbox and group of From, as Python shows them; none when there is no From', async () => {
    const FROMS = [
      'Team: a@lab, b@lab;',
      'undisclosed-recipients:;',
      'a@lab, b@lab',
      '"Doe, J." <j@lab>, Zoe <z@lab>',
      '<>',
    ];
    const files = await Promise.all(
      FROMS.map(async (from, i) => {
        const f = path.join(tmp.dir, `from-${i}.eml`);
        await writeFile(f, `From: ${from}\r\nTo: b@lab\r\nSubject: s\r\n\r\nx\r\n`);
        return f;
      }),
    );
    const py = await python(files);
    for (const [i, f] of files.entries()) {
      const want = Object.fromEntries(py[i]!.headers).From;
      const ours = JSON.parse((await netkit(['mail', 'show', f, '--json'])).stdout);
      expect(ours.from).toBe(want);
      expect((await netkit(['mail', 'show', f])).stdout).toContain(`From:       ${want}\n`);
    }
    const none = path.join(tmp.dir, 'no-from.eml');
    await writeFile(none, 'To: b@lab\r\nSubject: s\r\n\r\nx\r\n');
    const r = await netkit(['mail', 'show', none]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('From:');
  });
});
