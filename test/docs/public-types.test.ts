/**
 * The package's types as a library user meets them. Two failures that compile fine inside netkit:
 * - a type that a public function takes or returns (an options object, an event payload, a result
 *   entry) but that the entry does not export, so a user cannot name it for a variable, a helper's
 *   parameter or a test double;
 * - a declaration that fails in the user's project: netkit compiles with `skipLibCheck: true`, but a
 *   user with `skipLibCheck: false` type-checks every .d.ts netkit ships and every one it imports from
 *   a dependency (postal-mime's need the DOM's TextEncoder, which Node's types do not declare).
 * The declarations are emitted in memory from src/, so the test needs no build.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/net.js';
import {
  CONSUMER_OPTIONS,
  createProgram,
  formatDiagnostics,
  projectOptions,
  ts,
} from '../helpers/typescript.js';

const ENTRY = path.join(ROOT, 'src/index.ts');
const SRC = path.join(ROOT, 'src') + path.sep;

/**
 * Named types declared with `export` in netkit's modules that the public API reaches (through the
 * declared or inferred types of what src/index.ts exports, transitively) but src/index.ts does not
 * export. Types a module keeps to itself (no `export`) are its business and not reported.
 */
function unexportedPublicTypes(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set(checker.getExportsOfModule(entry).map(resolve));
  const named =
    ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class | ts.SymbolFlags.Enum;
  const missing = new Set<string>();
  const seenSymbols = new Set<ts.Symbol>();
  const seenTypes = new Set<ts.Type>();

  const isPrivate = (n: ts.Node) =>
    (ts.canHaveModifiers(n) && ts.getModifiers(n)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) ||
    ((ts.isPropertyDeclaration(n) || ts.isMethodDeclaration(n)) && ts.isPrivateIdentifier(n.name));

  function visitSymbol(symbol: ts.Symbol | undefined): void {
    if (!symbol) return;
    const s = resolve(symbol);
    const decls = (s.declarations ?? []).filter((d) => d.getSourceFile().fileName.startsWith(SRC));
    if (decls.length === 0) return;
    const isExported = decls.some((d) => (ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Export) !== 0);
    if (s.flags & named && isExported && !exported.has(s)) {
      missing.add(`${s.name} (${path.relative(ROOT, decls[0]!.getSourceFile().fileName)})`);
    }
    if (seenSymbols.has(s)) return;
    seenSymbols.add(s);
    for (const d of decls) visitNode(d);
  }

  function visitType(type: ts.Type): void {
    if (seenTypes.has(type)) return;
    seenTypes.add(type);
    visitSymbol(type.aliasSymbol ?? type.getSymbol());
    if (type.isUnionOrIntersection()) for (const t of type.types) visitType(t);
    for (const t of type.aliasTypeArguments ?? []) visitType(t);
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      for (const t of checker.getTypeArguments(type as ts.TypeReference)) visitType(t);
    }
  }

  function visitNode(node: ts.Node): void {
    if (isPrivate(node) || ts.isBlock(node)) return; // private members and bodies are not the API
    if (ts.isTypeReferenceNode(node)) visitSymbol(checker.getSymbolAtLocation(node.typeName));
    else if (ts.isExpressionWithTypeArguments(node))
      visitSymbol(checker.getSymbolAtLocation(node.expression));
    else if (ts.isTypeQueryNode(node)) visitSymbol(checker.getSymbolAtLocation(node.exprName));
    else if (ts.isImportTypeNode(node) && node.qualifier)
      visitSymbol(checker.getSymbolAtLocation(node.qualifier));
    // what is inferred rather than written still lands in the emitted declarations
    if ((ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node)) && !node.type) {
      visitType(checker.getTypeAtLocation(node.name));
    }
    if (
      (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node)) &&
      !node.type
    ) {
      const signature = checker.getSignatureFromDeclaration(node);
      if (signature) visitType(checker.getReturnTypeOfSignature(signature));
    }
    ts.forEachChild(node, visitNode);
  }

  for (const s of checker.getExportsOfModule(entry)) visitSymbol(s);
  return [...missing].sort();
}

/** src/ compiled as tsc would for the package, its declarations placed in a consumer's node_modules. */
function consumerProgram(consumerCode: string): ts.Program {
  const options = {
    ...projectOptions(),
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    sourceMap: false,
  };
  const outDir = options.outDir!;
  const consumerDir = path.join(ROOT, 'test/docs/consumer');
  const packageDir = path.join(consumerDir, 'node_modules/netkit');
  const files = new Map<string, string>();
  const emitted = createProgram([ENTRY], options).emit(undefined, (file, text) => {
    if (file.endsWith('.d.ts')) files.set(path.join(packageDir, 'dist', path.relative(outDir, file)), text);
  });
  expect(formatDiagnostics(emitted.diagnostics)).toEqual([]);
  const pkg = { name: 'netkit', type: 'module', exports: { '.': { types: './dist/index.d.ts' } } };
  files.set(path.join(packageDir, 'package.json'), JSON.stringify(pkg));
  const consumer = path.join(consumerDir, 'consumer.ts');
  files.set(consumer, consumerCode);
  return createProgram([consumer], CONSUMER_OPTIONS, files);
}

describe('the public types', () => {
  it('exports every type the public API takes, returns or emits', () => {
    const program = createProgram([ENTRY], projectOptions());
    expect(unexportedPublicTypes(program)).toEqual([]);
  });

  it('would report a type that a public signature uses and the entry does not export', () => {
    const file = path.join(ROOT, 'src/probe.ts');
    const code = [
      'export interface ProbeOptions { depth: number }',
      'export interface ProbeEvent { ok: boolean }',
      'interface Hidden { n: number }',
      'export function probe(o: ProbeOptions): { events: ProbeEvent[]; hidden: Hidden } { return null!; }',
    ].join('\n');
    const entry = `export { probe } from './probe.js';\n`;
    const program = createProgram(
      [ENTRY],
      projectOptions(),
      new Map([
        [file, code],
        [ENTRY, entry],
      ]),
    );
    expect(unexportedPublicTypes(program)).toEqual([
      'ProbeEvent (src/probe.ts)',
      'ProbeOptions (src/probe.ts)',
    ]);
  });

  it('compile in a strict project with skipLibCheck: false and no DOM library', { timeout: 120_000 }, () => {
    const program = consumerProgram(
      "import * as netkit from 'netkit';\nexport type Netkit = typeof netkit;\n",
    );
    expect(formatDiagnostics(ts.getPreEmitDiagnostics(program))).toEqual([]);
  });
});
