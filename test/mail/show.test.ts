/**
 * `mail show` and the message view: decoded headers and parts, and saving attachments whose names
 * come from a hostile sender (traversal, absolute paths, control characters, bidi overrides,
 * duplicates, reserved names, planted symlinks) — everything lands inside the target directory,
 * nothing is overwritten.
 */
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, safeFilename, saveAttachments } from '../../src/mail/message-view.js';
import { netkit, tempDir } from '../helpers/net.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function part(name: string | null, content: string, nameEncoding: 'quoted' | 'rfc2231' = 'quoted'): string {
  const disp =
    name === null
      ? 'attachment'
      : nameEncoding === 'rfc2231'
        ? `attachment; filename*=UTF-8''${name}`
        : `attachment; filename="${name}"`;
  return `--BOUNDARY\r\nContent-Type: application/octet-stream\r\nContent-Disposition: ${disp}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(content)}\r\n`;
}

const HOSTILE: Array<[string | null, string, 'quoted' | 'rfc2231' | undefined]> = [
  ['../../x', 'traversal', undefined],
  ['/etc/passwd', 'absolute', undefined],
  ['a\u0007b\u001b[2J.txt', 'control chars', undefined],
  ['..', 'dotdot', undefined],
  [null, 'no name', undefined],
  ['dup.txt', 'first dup', undefined],
  ['dup.txt', 'second dup', undefined],
  ['C:\\\\Windows\\\\evil.exe', 'windows path (quoted-string escapes)', undefined],
  ['=?UTF-8?B?Li4vLi4vZW5jb2RlZA==?=', 'encoded word', undefined],
  ['..%2F..%2Fpct', 'rfc 2231', 'rfc2231'],
  ['CON', 'reserved', undefined],
  [`${'n'.repeat(300)}.txt`, 'long', undefined],
  ['\u202egnp.exe', 'bidi', undefined],
];

const MESSAGE = Buffer.from(
  [
    'From: =?UTF-8?Q?Z=C3=B6e?= <zoe@lab>',
    'To: bob@lab, "Carol" <carol@lab>',
    'Subject: =?UTF-8?B?R3LDvMOfZQ==?= \u001b[31mred\u001b[0m',
    'Date: Tue, 01 Sep 2026 10:00:00 +0000',
    'Message-ID: <m1@lab>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="BOUNDARY"',
    '',
    '--BOUNDARY',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'hello \u001b]0;pwned\u0007 world',
    HOSTILE.map(([n, c, e]) => part(n, c, e)).join(''),
  ].join('\r\n') + '--BOUNDARY--\r\n',
  'utf8',
);

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
  await writeFile(path.join(tmp.dir, 'hostile.eml'), MESSAGE);
});
afterAll(() => tmp.cleanup());

describe('safeFilename', () => {
  const cases: Array<[string | null, string]> = [
    ['report.pdf', 'report.pdf'],
    ['../../x', 'x'],
    ['/etc/passwd', 'passwd'],
    ['C:\\Windows\\evil.exe', 'evil.exe'],
    ['dir/', 'attachment'],
    ['..', 'attachment'],
    ['.', 'attachment'],
    ['.bashrc', 'bashrc'],
    ['a\u0000b', 'a_b'],
    ['a\r\nb', 'a__b'],
    ['\u202egnp.exe', '_gnp.exe'],
    ['a\u200bb\u2028c.txt', 'a_b_c.txt'],
    ['nul.txt', '_nul.txt'],
    ['a<b>c:d"e|f?g*h', 'a_b_c_d_e_f_g_h'],
    ['  spaced.txt  ', 'spaced.txt'],
    ['Grüße.txt', 'Grüße.txt'],
    [null, 'attachment'],
    ['', 'attachment'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => expect(safeFilename(input)).toBe(expected));
  }
  it('caps the length and keeps the extension', () => {
    const n = safeFilename(`${'ü'.repeat(300)}.pdf`);
    expect(Buffer.byteLength(n)).toBeLessThanOrEqual(200);
    expect(n.endsWith('.pdf')).toBe(true);
  });
});

describe('parseMessage and saveAttachments', () => {
  it('decodes headers and lists every attachment with its size', async () => {
    const v = await parseMessage(MESSAGE);
    expect(v.from).toBe('Zöe <zoe@lab>');
    expect(v.to).toEqual(['bob@lab', 'Carol <carol@lab>']);
    expect(v.subject).toMatch(/^Grüße/);
    expect(v.date).toBe('2026-09-01T10:00:00.000Z');
    expect(v.attachments).toHaveLength(HOSTILE.length);
    expect(v.attachments.map((a) => a.size)).toEqual(HOSTILE.map(([, c]) => c.length));
  });

  it('saves hostile names inside the directory, unique, never overwriting, never following symlinks', async () => {
    const dir = path.join(tmp.dir, 'saved');
    await mkdir(dir);
    await writeFile(path.join(dir, 'x'), 'pre-existing');
    const outside = path.join(tmp.dir, 'outside.txt');
    await writeFile(outside, 'untouched');
    await symlink(outside, path.join(dir, 'dup.txt'));
    const saved = await saveAttachments(await parseMessage(MESSAGE), dir);
    const names = saved.map((s) => s.filename);
    expect(names.slice(0, 11)).toEqual([
      'x-2',
      'passwd',
      'a_b_[2J.txt',
      'attachment-4',
      'attachment-5',
      'dup-2.txt',
      'dup-3.txt',
      'evil.exe',
      'encoded',
      'pct',
      '_CON',
    ]);
    expect(names[11]!.endsWith('.txt')).toBe(true);
    expect(names[12]).toBe('_gnp.exe');
    for (const s of saved) {
      expect(path.dirname(s.path)).toBe(dir);
      expect(s.filename).not.toMatch(/[\u0000-\u001f/\\]/);
    }
    expect(await readFile(path.join(dir, 'x'), 'utf8')).toBe('pre-existing');
    expect(await readFile(outside, 'utf8')).toBe('untouched');
    expect((await lstat(path.join(dir, 'dup.txt'))).isSymbolicLink()).toBe(true);
    expect(await readFile(path.join(dir, 'x-2'), 'utf8')).toBe('traversal');
    expect(await readFile(path.join(dir, 'dup-3.txt'), 'utf8')).toBe('second dup');
    expect((await readdir(tmp.dir)).sort()).toEqual(['hostile.eml', 'outside.txt', 'saved']);
  });

  it("an unencoded attachment of a forwarded message ends where it did; PostalMime elsewhere is postal-mime's", async () => {
    const forwarded = [
      'Content-Type: multipart/mixed; boundary=IN',
      '',
      '--IN',
      'Content-Type: text/plain; name=notes.txt',
      'Content-Disposition: attachment; filename=notes.txt',
      '',
      'line 1',
      'line 2',
      '--IN--',
    ];
    const raw = Buffer.from(
      [
        'Content-Type: multipart/mixed; boundary=OUT',
        '',
        '--OUT',
        'Content-Type: message/rfc822',
        '',
        ...forwarded,
        '--OUT--',
        '',
      ].join('\r\n'),
    );
    const v = await parseMessage(raw);
    expect(v.attachments.map((a) => a.content.toString())).toEqual(['line 1\nline 2']);
    // the same message read by postal-mime itself, outside parseMessage: its extra line break stays
    const own = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
    expect(Buffer.from(own.attachments[0]!.content as ArrayBuffer).toString()).toBe('line 1\nline 2\n');
  });
});

describe('netkit mail show', () => {
  it('prints decoded headers, the text part and the attachment list, with control characters neutralised', async () => {
    const r = await netkit(['mail', 'show', path.join(tmp.dir, 'hostile.eml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^From: +Zöe <zoe@lab>$/m);
    expect(r.stdout).toMatch(/^Subject: +Grüße \\x1b\[31mred/m);
    expect(r.stdout).toContain('hello \\x1b]0;pwned\\x07 world');
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u0007');
    expect(r.stdout).toMatch(/attachments \(13\)/);
    expect(r.stdout).toMatch(/\.\.\/\.\.\/x +application\/octet-stream +9 B/);
  });

  it('--json from stdin, --save-attachments', async () => {
    const out = path.join(tmp.dir, 'cli-saved');
    const r = await netkit(['mail', 'show', '-', '--json', '--save-attachments', out], { input: MESSAGE });
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v.subject).toMatch(/^Grüße/);
    expect(v.attachments[0]).toEqual({
      filename: '../../x',
      mimeType: 'application/octet-stream',
      disposition: 'attachment',
      size: 9,
    });
    expect(v.saved.map((s: { filename: string }) => s.filename)).toContain('passwd');
    expect((await readdir(out)).length).toBe(HOSTILE.length);
  });

  it('escapes what could drive the terminal in header names, content types and names, bidi included', async () => {
    const evil = Buffer.from(
      [
        'From: a@lab',
        '\u001b[31mX-Evil\u001b[0m: v',
        'Subject: =?UTF-8?Q?hi_=E2=80=AEtxt.exe?= \u202ereversed\u200b',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary=XX',
        '',
        '--XX',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'body \u2028 line',
        '--XX',
        'Content-Type: application/x\u001b[31mred',
        'Content-Disposition: attachment; filename="a\u009bb\u202egpj.exe"',
        '',
        'zzz',
        '--XX--',
        '',
      ].join('\r\n'),
      'utf8',
    );
    const file = path.join(tmp.dir, 'evil-terminal.eml');
    await writeFile(file, evil);
    const out = path.join(tmp.dir, 'evil-saved');
    for (const args of [['--all-headers'], ['--save-attachments', out]]) {
      const r = await netkit(['mail', 'show', file, ...args]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b\u2028\u202e]/);
      expect(r.stdout).toContain('\\u202e');
    }
    const all = await netkit(['mail', 'show', file, '--all-headers']);
    expect(all.stdout).toMatch(/^\\x1b\[31mX-Evil\\x1b\[0m: v$/m);
    const r = await netkit(['mail', 'show', file]);
    expect(r.stdout).toMatch(/^Subject: +hi \\u202etxt\.exe \\u202ereversed\\u200b$/m);
    expect(r.stdout).toContain('body \\u2028 line');
    expect(r.stdout).toMatch(/a\\x9bb\\u202egpj\.exe +application\/x\\x1b\[31mred/);
  });

  it('shows a folded header as one line: the tab that folding leaves is a space, not an escape', async () => {
    const file = path.join(tmp.dir, 'folded.eml');
    await writeFile(
      file,
      [
        'Received: from [127.0.0.1] ([127.0.0.1])',
        '\tby lab.test (netkit) with ESMTP id abc;',
        '\tTue, 24 Nov 2026 10:00:00 +0000',
        'From: a@lab',
        'Subject: one\ttab',
        '',
        'hi',
        '',
      ].join('\r\n'),
    );
    const all = await netkit(['mail', 'show', file, '--all-headers']);
    expect(all.stdout).toMatch(
      /^Received: from \[127\.0\.0\.1\] \(\[127\.0\.0\.1\]\) by lab\.test \(netkit\) with ESMTP id abc; Tue, 24 Nov 2026 10:00:00 \+0000$/m,
    );
    expect(all.stdout).not.toContain('\\x09');
    expect((await netkit(['mail', 'show', file])).stdout).toMatch(/^Subject: +one tab$/m);
  });

  it('fails cleanly on a missing file', async () => {
    const r = await netkit(['mail', 'show', path.join(tmp.dir, 'nope.eml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: .*nope\.eml: no such file or directory\n$/);
  });
});
