/**
 * Every ```ts block of the README compiles as a library user's strict TypeScript would compile it:
 * each block on its own, as an ES module, with `'netkit'` resolved to src/index.ts. A block that
 * uses a name it does not import, calls a function with an option the types lack, or reads a
 * property that does not exist fails here (readme-exports.test.ts checks only that imported names
 * exist). A block that continues an earlier one needs its own imports: readers copy blocks one at a
 * time. Users' projects differ, so each block compiles three ways: Node's ESM resolution, a
 * bundler's (Vite, esbuild: `moduleResolution: "bundler"`), and the strictest flags on top of
 * `strict` (`exactOptionalPropertyTypes`: a block that passes one netkit result's optional field
 * to another's option must still compile).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/net.js';
import { CONSUMER_OPTIONS, createProgram, formatDiagnostics, ts } from '../helpers/typescript.js';

interface Snippet {
  /** README line of the opening fence */
  line: number;
  code: string;
}

function tsBlocks(markdown: string): Snippet[] {
  const blocks: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    if (end === -1) throw new Error(`README line ${i + 1}: unterminated code block`);
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** The compiler settings a user's project may have, besides {@link CONSUMER_OPTIONS}. */
const PROJECTS: Record<string, ts.CompilerOptions> = {
  'strict, NodeNext': CONSUMER_OPTIONS,
  bundler: {
    ...CONSUMER_OPTIONS,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
  },
  strictest: {
    ...CONSUMER_OPTIONS,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noPropertyAccessFromIndexSignature: true,
    verbatimModuleSyntax: true,
  },
};

/** Type errors of each snippet, prefixed with the README line of its block. */
function snippetErrors(snippets: Snippet[], project: ts.CompilerOptions = CONSUMER_OPTIONS): string[] {
  const files = new Map<string, string>();
  const lineOf = new Map<string, number>();
  for (const s of snippets) {
    const file = path.join(ROOT, 'test/docs', `readme-snippet-${s.line}.ts`);
    // `export {}` makes a block without imports a module too, so top-level await is allowed
    files.set(file, `${s.code}\nexport {};\n`);
    lineOf.set(file, s.line);
  }
  const options = { ...project, paths: { netkit: [path.join(ROOT, 'src/index.ts')] } };
  const program = createProgram([...files.keys()], options, files);
  const errors: string[] = [];
  for (const file of files.keys()) {
    const source = program.getSourceFile(file)!;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    for (const d of formatDiagnostics(diagnostics))
      errors.push(`README block at line ${lineOf.get(file)}: ${d}`);
  }
  return errors;
}

describe('README TypeScript examples', () => {
  const snippets = tsBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

  it('finds the library examples', () => {
    expect(snippets.length).toBeGreaterThan(10);
    expect(snippets.filter((s) => s.code.includes("from 'netkit'")).length).toBe(snippets.length);
  });

  for (const [name, project] of Object.entries(PROJECTS)) {
    it(`compile under strict TypeScript against the package entry (${name})`, () => {
      expect(snippetErrors(snippets, project)).toEqual([]);
    });
  }

  it('would catch a missing import, an unknown option and a wrong property', () => {
    const errors = snippetErrors([
      { line: 1, code: "import { createSmtpServer } from 'netkit';\nconsole.log(formatTrace);" },
      {
        line: 2,
        code: "import { createChatServer } from 'netkit';\nawait createChatServer({ prot: 7070 });",
      },
      { line: 3, code: "import { urlparse } from 'netkit';\nurlparse('http://a/').hostnam;" },
    ]);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^README block at line 1: .*Cannot find name 'formatTrace'/);
    expect(errors[1]).toMatch(/^README block at line 2: .*'prot' does not exist/);
    expect(errors[2]).toMatch(/^README block at line 3: .*'hostnam' does not exist/);
  });
});
