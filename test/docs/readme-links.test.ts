/**
 * The README's links lead somewhere: every `[…](#anchor)` names a heading as GitHub makes its
 * anchor (lower case, punctuation dropped, spaces to `-`, a repeated heading `-1`, `-2`…), and every
 * repository path it names in code (`src/mail/smtp-tweaks.ts`, `bench/_min-smtp.mjs`) exists. A
 * heading renamed in docs/readme/ would otherwise leave the contents and the chapters' "below" links
 * dead without anyone noticing, and a module moved would leave the README pointing at nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/net.js';

/** Markdown lines outside fenced code blocks, with their line numbers. */
function prose(markdown: string): Array<{ n: number; text: string }> {
  const out: Array<{ n: number; text: string }> = [];
  let inFence = false;
  markdown.split('\n').forEach((text, i) => {
    if (text.trimStart().startsWith('```')) inFence = !inFence;
    else if (!inFence) out.push({ n: i + 1, text });
  });
  return out;
}

/** The anchors GitHub gives the headings. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of prose(markdown)) {
    const m = /^#{1,6} (.*)$/.exec(text);
    if (!m) continue;
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** Links to an anchor that no heading has. */
function deadAnchors(markdown: string): string[] {
  const known = anchors(markdown);
  return prose(markdown).flatMap(({ n, text }) =>
    [...text.matchAll(/\]\(#([^)\s]+)\)/g)]
      .filter((m) => !known.has(decodeURIComponent(m[1]!)))
      .map((m) => `line ${n}: #${m[1]}`),
  );
}

/** Repository paths named in inline code (`src/…`, `test/…`, …) that do not exist. */
function missingPaths(markdown: string): string[] {
  return prose(markdown).flatMap(({ n, text }) =>
    [...text.matchAll(/`((?:src|test|bench|scripts|web)\/[^`\s*]+)`/g)]
      .filter((m) => !existsSync(path.join(ROOT, m[1]!.replace(/[:,]\d*$/, ''))))
      .map((m) => `line ${n}: ${m[1]}`),
  );
}

describe('README links', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('every #anchor names a heading', () => {
    expect(readme.match(/\]\(#/g)?.length).toBeGreaterThan(15);
    expect(deadAnchors(readme)).toEqual([]);
  });

  it('every repository path in code exists', () => {
    expect(missingPaths(readme)).toEqual([]);
  });

  it('would catch a renamed heading and a moved file', () => {
    const md = [
      '## Chat: `netkit chat serve | join`',
      '## Notes',
      '## Notes',
      'See [chat](#chat-netkit-chat-serve--join), [notes](#notes-1) and [gone](#chat-server).',
      '```',
      '[in code](#not-checked) `src/not/checked.ts`',
      '```',
      'Code in `src/sockets/bytes.ts` and `src/sockets/bites.ts`.',
    ].join('\n');
    expect(deadAnchors(md)).toEqual(['line 4: #chat-server']);
    expect(missingPaths(md)).toEqual(['line 8: src/sockets/bites.ts']);
  });
});
