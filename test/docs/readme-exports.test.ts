/**
 * The README must not promise what the package does not export. Every name it says comes from
 * 'netkit' — in an `import { … } from 'netkit'` (code blocks and inline code alike) or in a list the
 * text introduces with "exported from `netkit`:" — must be exported by src/index.ts. Runtime values are
 * checked on the module itself; type-only names do not exist at runtime, so they are looked up in the
 * index's source text instead. Any other mention of `from 'netkit'`, and any list introduced by
 * "exported …:" that does not say from `netkit`, fails the test as an unchecked claim: rephrase it into
 * one of the two forms above (or name the internal module path instead).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as lib from '../../src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const INDEX_SOURCE = readFileSync(path.join(ROOT, 'src/index.ts'), 'utf8');

interface Claim {
  name: string;
  line: number;
  how: 'import' | 'list';
}

interface Extracted {
  claims: Claim[];
  /** mentions of 'netkit' as a module, or lists of exports, that neither form covers */
  unchecked: string[];
}

const IDENT = /^[A-Za-z_$][\w$]*/;
const IMPORT_RE = /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*(['"`])netkit\2/g;
const LIST_RE = /exported\s+from\s+(['"`])netkit\1\s*:/gi;
const FROM_NETKIT_RE = /from\s+(['"`])netkit\1/g;
const EXPORTED_LIST_RE = /^exported\b[^.:]*:\s*`(?!`)/i;

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** The backticked names of the list that starts at `start`, up to the end of its sentence. */
function listNames(text: string, start: number): string[] {
  const names: string[] = [];
  let depth = 0; // parentheses outside code spans: "(methods `a`, `b`)" are not exports
  let between = ''; // prose since the last code span: a span right after "→" is a return type
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end === -1) break;
      const code = text.slice(i + 1, end);
      const id = IDENT.exec(code)?.[0];
      if (depth === 0 && id !== undefined && !between.trim().endsWith('→')) names.push(id);
      between = '';
      i = end;
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (ch === '.' && depth === 0 && (i + 1 === text.length || /\s/.test(text[i + 1]!))) break;
    else if (ch === '\n' && /^\n[ \t]*\n/.test(text.slice(i, i + 3 + 8))) break; // end of paragraph
    between += ch;
  }
  return names;
}

function extractClaims(text: string): Extracted {
  const claims: Claim[] = [];
  const unchecked: string[] = [];
  const covered: Array<[number, number]> = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    covered.push([m.index, m.index + m[0].length]);
    for (const raw of m[1]!.split(',')) {
      const item = raw
        .replace(/\/\/.*$/gm, '')
        .trim()
        .replace(/^type\s+/, '')
        .replace(/\s+as\s+[\w$]+$/, '');
      if (item === '' || item === '…' || item === '...') continue;
      if (!IDENT.test(item) || IDENT.exec(item)![0] !== item) {
        unchecked.push(`line ${lineOf(text, m.index)}: cannot read "${item}" in ${m[0]}`);
        continue;
      }
      claims.push({ name: item, line: lineOf(text, m.index), how: 'import' });
    }
  }
  const listStarts = new Set<number>();
  for (const m of text.matchAll(LIST_RE)) {
    covered.push([m.index, m.index + m[0].length]);
    listStarts.add(m.index);
    const names = listNames(text, m.index + m[0].length);
    if (names.length === 0)
      unchecked.push(`line ${lineOf(text, m.index)}: "${m[0]}" is followed by no names`);
    for (const name of names) claims.push({ name, line: lineOf(text, m.index), how: 'list' });
  }
  for (const m of text.matchAll(FROM_NETKIT_RE)) {
    if (!covered.some(([a, b]) => m.index >= a && m.index < b)) {
      const context = text.slice(Math.max(0, m.index - 60), m.index + 20).replace(/\s+/g, ' ');
      unchecked.push(`line ${lineOf(text, m.index)}: unrecognised claim "…${context}"`);
    }
  }
  for (const m of text.matchAll(/\bexported\b/gi)) {
    if (EXPORTED_LIST_RE.test(text.slice(m.index)) && !listStarts.has(m.index)) {
      const context = text.slice(m.index, m.index + 80).replace(/\s+/g, ' ');
      unchecked.push(
        `line ${lineOf(text, m.index)}: a list of exports that does not say from \`netkit\`: "${context}…"`,
      );
    }
  }
  return { claims, unchecked };
}

/** Type-only exports of src/index.ts, read from its source (they do not exist at runtime). */
function typeExports(source: string): Set<string> {
  const types = new Set<string>();
  for (const m of source.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    for (const raw of m[2]!.split(',')) {
      const item = raw.trim();
      const t = /^type\s+([\w$]+)/.exec(item);
      if (t) types.add(t[1]!);
      else if (m[1] && IDENT.test(item)) types.add(IDENT.exec(item)![0]);
    }
  }
  for (const m of source.matchAll(/export\s+(?:interface|type)\s+([\w$]+)/g)) types.add(m[1]!);
  return types;
}

const TYPES = typeExports(INDEX_SOURCE);

function isExported(name: string): boolean {
  return Object.hasOwn(lib, name) || TYPES.has(name);
}

describe('README library claims', () => {
  const { claims, unchecked } = extractClaims(README);

  it('finds the claims (imports in code and "exported from `netkit`:" lists)', () => {
    expect(claims.length).toBeGreaterThan(60);
    const names = new Set(claims.map((c) => c.name));
    for (const name of ['createSmtpServer', 'planMirror', 'parseChecksum', 'ServiceDb', 'usesRelative'])
      expect(names, name).toContain(name);
    expect(claims.some((c) => c.how === 'list')).toBe(true);
  });

  it('says "from netkit" only in a form this test can check', () => {
    expect(unchecked).toEqual([]);
  });

  it('names only what src/index.ts exports', () => {
    const missing = claims
      .filter((c) => !isExported(c.name))
      .map((c) => `${c.name} (README line ${c.line}, ${c.how})`);
    expect(missing).toEqual([]);
  });

  it('checks type-only names against the index source', () => {
    for (const name of ['HttpRequestOptions', 'TraceEvent']) {
      expect(Object.hasOwn(lib, name)).toBe(false);
      expect(isExported(name), name).toBe(true);
    }
    expect(isExported('NotAType')).toBe(false);
  });

  it('would catch a documented name that is not exported', () => {
    const sample = [
      "```ts\nimport { createSmtpServer, type TraceEvent, notExported } from 'netkit';\n```",
      '',
      'Also exported from `netkit`: `parseRange(header, size)` → `RangeResult`, `alsoMissing`',
      '(methods `portOf`, `nameOf`), `ServiceDb`. Then `notAClaim`.',
      '',
      "Helpers you can import from 'netkit' as well: `stray`.",
      '',
      'Building blocks exported for reuse: `helper`.',
    ].join('\n');
    const found = extractClaims(sample);
    expect(found.claims.map((c) => c.name)).toEqual([
      'createSmtpServer',
      'TraceEvent',
      'notExported',
      'parseRange',
      'alsoMissing',
      'ServiceDb',
    ]);
    expect(found.claims.filter((c) => !isExported(c.name)).map((c) => c.name)).toEqual([
      'notExported',
      'alsoMissing',
    ]);
    expect(found.unchecked).toHaveLength(2);
  });
});
