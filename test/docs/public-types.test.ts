/**
 * The package's types as a library user meets them. Three failures that compile fine inside netkit:
 * - a type that a public function takes or returns (an options object, an event payload, a result
 *   entry) but that the entry does not export, so a user cannot name it for a variable, a helper's
 *   parameter or a test double;
 * - a declaration that fails in the user's project: netkit compiles with `skipLibCheck: true`, but a
 *   user with `skipLibCheck: false` type-checks every .d.ts netkit ships and every one it imports from
 *   a dependency (postal-mime's need the DOM's TextEncoder, which Node's types do not declare), or
 *   one whose types a user's install lacks: those of a devDependency (`@types/ws`);
 * - an EventEmitter whose listeners get `any`: `ftp.on('session', (ev) => ev.usr)` compiles, and is
 *   undefined at run time.
 * And one a user meets in the editor: a function, a class or an option without a doc comment, whose
 * hover says nothing (`maxConnections`: how many, and what happens past them?).
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

/**
 * Properties of the exported options types (`…Options`) that have no doc comment: what a user's
 * editor shows when they hover over it. Properties inherited from Node's or a dependency's types
 * are documented there.
 */
function undocumentedOptions(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const undocumented = new Set<string>();
  for (const exported of checker.getExportsOfModule(entry)) {
    const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!(s.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) || !s.name.endsWith('Options'))
      continue;
    for (const property of checker.getDeclaredTypeOfSymbol(s).getProperties()) {
      const declaration = property.declarations?.[0];
      if (!declaration?.getSourceFile().fileName.startsWith(SRC)) continue;
      if (property.getDocumentationComment(checker).length === 0)
        undocumented.add(`${s.name}.${property.name}`);
    }
  }
  return [...undocumented].sort();
}

/**
 * Options types whose `ca` does not take every form of {@link CaCertificates} (a PEM string, a
 * Buffer read from a file, or a list of them) that the other clients take: `ca: pem` written for
 * one client must compile for the next.
 */
function narrowCaOptions(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exports = checker.getExportsOfModule(entry).map(resolve);
  const ca = checker.getDeclaredTypeOfSymbol(exports.find((s) => s.name === 'CaCertificates')!);
  const narrow: string[] = [];
  for (const s of exports) {
    if (!(s.flags & ts.SymbolFlags.Interface) || !s.name.endsWith('Options')) continue;
    const property = checker.getDeclaredTypeOfSymbol(s).getProperty('ca');
    if (property && !checker.isTypeAssignableTo(ca, checker.getTypeOfSymbol(property))) narrow.push(s.name);
  }
  return narrow.sort();
}

/** Exported functions and classes without a doc comment: a hover that says nothing. */
function undocumentedExports(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  return checker
    .getExportsOfModule(entry)
    .map((s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s))
    .filter((s) => s.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class))
    .filter((s) => s.getDocumentationComment(checker).length === 0)
    .map((s) => s.name)
    .sort();
}

const CONSUMER_DIR = path.join(ROOT, 'test/docs/consumer');

/** emitted once per run: it takes seconds */
let declarations: ReadonlyMap<string, string> | undefined;
/** src/ compiled as tsc would for the package, its declarations placed in a consumer's node_modules. */
function packageDeclarations(): ReadonlyMap<string, string> {
  if (declarations) return declarations;
  const options = {
    ...projectOptions(),
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    sourceMap: false,
  };
  const outDir = options.outDir!;
  const packageDir = path.join(CONSUMER_DIR, 'node_modules/netkit');
  const files = new Map<string, string>();
  const emitted = createProgram([ENTRY], options).emit(undefined, (file, text) => {
    if (file.endsWith('.d.ts')) files.set(path.join(packageDir, 'dist', path.relative(outDir, file)), text);
  });
  expect(formatDiagnostics(emitted.diagnostics)).toEqual([]);
  const pkg = { name: 'netkit', type: 'module', exports: { '.': { types: './dist/index.d.ts' } } };
  files.set(path.join(packageDir, 'package.json'), JSON.stringify(pkg));
  // a package of its own: inside netkit's, 'netkit' would resolve to netkit itself (its dist/, stale
  // or missing) before any node_modules
  files.set(path.join(CONSUMER_DIR, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module' }));
  declarations = files;
  return files;
}

/** A consumer's module importing 'netkit' from the package's declarations. */
function consumerProgram(consumerCode: string): ts.Program {
  const files = new Map(packageDeclarations());
  const consumer = path.join(CONSUMER_DIR, 'consumer.ts');
  files.set(consumer, consumerCode);
  return createProgram([consumer], CONSUMER_OPTIONS, files);
}

/**
 * Packages whose declarations the ones a user's compiler loads (those the entry reaches) import, but
 * that package.json does not list in `dependencies`. A devDependency's types — `smtp-server` is a
 * dependency, its types come from `@types/smtp-server`, a devDependency — are in netkit's
 * node_modules, so everything compiles here, and are missing from a user's install.
 */
function undeclaredTypeImports(program: ts.Program): string[] {
  const packageDir = path.join(CONSUMER_DIR, 'node_modules/netkit') + path.sep;
  const { dependencies } = JSON.parse(ts.sys.readFile(path.join(ROOT, 'package.json'))!) as {
    dependencies: Record<string, string>;
  };
  const undeclared = new Set<string>();
  for (const file of program.getSourceFiles()) {
    if (!file.fileName.startsWith(packageDir)) continue;
    for (const { fileName: specifier } of ts.preProcessFile(file.text, true, true).importedFiles) {
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      const { resolvedModule: resolved } = ts.resolveModuleName(
        specifier,
        file.fileName,
        program.getCompilerOptions(),
        ts.sys,
        undefined,
        undefined,
        ts.ModuleKind.ESNext,
      );
      const from = resolved?.packageId?.name ?? specifier;
      if (!Object.hasOwn(dependencies, from))
        undeclared.add(`${specifier}: types from ${from} (${path.relative(packageDir, file.fileName)})`);
    }
  }
  return [...undeclared].sort();
}

/**
 * Exported classes and interfaces whose `on` is EventEmitter's own, one signature that takes any
 * event with any listener: a user's listener gets `any` for every payload.
 */
function untypedEmitters(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const untyped: string[] = [];
  for (const exported of checker.getExportsOfModule(entry)) {
    const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!(s.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
    const on = checker.getDeclaredTypeOfSymbol(s).getProperty('on');
    if (on && checker.getTypeOfSymbol(on).getCallSignatures().length === 1) untyped.push(s.name);
  }
  return untyped.sort();
}

/** EventEmitters in the public API that never emit anything: there is nothing to type. */
const EMIT_NOTHING = ['DashboardHandle', 'TcpServerHandle'];

/**
 * Every event the public emitters emit, with what its listener receives: `[]` for no arguments,
 * else the payload type and a field of it to read.
 */
const EVENTS: Array<[emitter: string, event: string, payload: string, field?: string]> = [
  ['ChatClient', 'close', '[]'],
  ['ChatClient', 'line', 'string', 'length'],
  ['ChatClient', 'ready', 'boolean'],
  ['ChatClient', 'trace', 'TraceEvent', 'text'],
  ['ChatServer', 'join', 'ChatJoinEvent', 'nick'],
  ['ChatServer', 'leave', 'ChatLeaveEvent', 'reason'],
  ['ChatServer', 'message', 'ChatMessage', 'text'],
  ['ChatServer', 'nick', 'ChatNickEvent', 'old'],
  ['ChatServer', 'trace', 'TraceEvent', 'text'],
  ['ChatView', 'message', 'ChatMessageView', 'room'],
  ['ChatView', 'rooms', 'ChatRoomInfo[]', 'length'],
  ['ClassicServiceHandle', 'trace', 'TraceEvent', 'text'],
  ['DownloadHandle', 'progress', 'DownloadProgress', 'done'],
  ['DownloadHandle', 'start', 'DownloadStart', 'url'],
  ['DownloadHandle', 'trace', 'TraceEvent', 'text'],
  ['FileServerHandle', 'trace', 'TraceEvent', 'text'],
  ['FtpClient', 'progress', 'FtpProgress', 'bytes'],
  ['FtpClient', 'trace', 'TraceEvent', 'text'],
  ['FtpServerHandle', 'session', 'FtpSessionEvent', 'event'],
  ['FtpServerHandle', 'trace', 'TraceEvent', 'text'],
  ['FtpServerHandle', 'warning', 'FtpWarning', 'text'],
  ['FtpView', 'session', '[]'],
  ['HttpClient', 'trace', 'TraceEvent', 'text'],
  ['LineConnection', 'close', '[]'],
  ['LineConnection', 'handlerError', 'unknown'],
  ['LineConnection', 'idle', '[]'],
  ['MailIndex', 'change', 'MailIndexChange', 'added'],
  ['MulticastChat', 'message', 'MulticastChatMessage', 'self'],
  ['MulticastChat', 'trace', 'TraceEvent', 'text'],
  ['MulticastSocket', 'error', 'Error', 'message'],
  ['MulticastSocket', 'message', 'MulticastDatagram', 'data'],
  ['MulticastSocket', 'trace', 'TraceEvent', 'text'],
  ['Pop3Client', 'pause', '[]'],
  ['Pop3Client', 'resume', '[]'],
  ['Pop3Client', 'trace', 'TraceEvent', 'text'],
  ['Pop3ServerHandle', 'auth-failed', 'Pop3AuthFailedEvent', 'user'],
  ['Pop3ServerHandle', 'dele', 'Pop3DeleEvent', 'uid'],
  ['Pop3ServerHandle', 'end', 'Pop3EndEvent', 'quit'],
  ['Pop3ServerHandle', 'login', 'Pop3LoginEvent', 'mailbox'],
  ['Pop3ServerHandle', 'quit', 'Pop3QuitEvent', 'deleted'],
  ['Pop3ServerHandle', 'retr', 'Pop3RetrEvent', 'octets'],
  ['Pop3ServerHandle', 'trace', 'TraceEvent', 'text'],
  ['SmtpSender', 'trace', 'TraceEvent', 'text'],
  ['SmtpServerHandle', 'message', 'SmtpMessageEvent', 'mailbox'],
  ['SmtpServerHandle', 'trace', 'TraceEvent', 'text'],
  ['TcpListener', 'connection', 'TcpConnectionInfo', 'socket'],
  ['TcpListener', 'denied', 'TcpDeniedInfo', 'reason'],
  ['TcpListener', 'refused', 'TcpRefusedInfo', 'reason'],
  ['TcpListener', 'tlsError', 'TcpTlsErrorInfo', 'error'],
  ['TcpListener', 'trace', 'TraceEvent', 'text'],
  ['UdpClient', 'error', 'Error', 'message'],
  ['UdpClient', 'message', 'Datagram', 'from'],
  ['UdpClient', 'trace', 'TraceEvent', 'text'],
  ['UdpListener', 'message', 'Datagram', 'from'],
  ['UdpListener', 'trace', 'TraceEvent', 'text'],
  ['WireLog', 'event', 'TraceEvent', 'conn'],
];

/** Payload types of {@link EVENTS} that are not netkit's. */
const GLOBAL_TYPES = new Set(['boolean', 'Error', 'string', 'unknown']);

/**
 * A consumer module that subscribes to every event of {@link EVENTS} with `on`, `once` and `off`
 * (chained: each returns the emitter) and checks what its listener is given. A payload typed `any`
 * fails the `@ts-expect-error` on a field no payload has; `unknown`, or a wrong type, fails the
 * assignment to the payload's type; an event without arguments must be given none.
 */
function eventListenerCode(): string {
  const exported = (type: string) => (GLOBAL_TYPES.has(type) ? type : `netkit.${type}`);
  const functions = EVENTS.map(([emitter, event, payload, field], i) => {
    const body =
      payload === '[]'
        ? ['(...args) => {', '  const none: [] = args;', '  void none;', '}']
        : [
            '(payload) => {',
            `  const typed: ${exported(payload)} = payload;`,
            ...(field ? [`  const field: ${exported(payload)}['${field}'] = payload.${field};`] : []),
            '  void typed;',
            '  // @ts-expect-error: no payload has this field; one typed any would take it',
            '  void payload.notAField;',
            '}',
          ];
    const listener = body.join('\n    ');
    return [
      `export function listen${i}(emitter: netkit.${emitter}): netkit.${emitter} {`,
      '  return emitter',
      ...['on', 'once', 'off'].map((method) => `    .${method}('${event}', ${listener})`),
      '}',
    ].join('\n');
  });
  return ["import type * as netkit from 'netkit';", ...functions].join('\n\n');
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

  it('document every exported function and class, and every option of an exported options type', () => {
    const program = createProgram([ENTRY], projectOptions());
    expect(undocumentedExports(program)).toEqual([]);
    expect(undocumentedOptions(program)).toEqual([]);
  });

  it('take certificates to trust (`ca`) in the same forms in every client', () => {
    expect(narrowCaOptions(createProgram([ENTRY], projectOptions()))).toEqual([]);
  });

  it('compile in a strict project with skipLibCheck: false and no DOM library', { timeout: 120_000 }, () => {
    const program = consumerProgram(
      "import * as netkit from 'netkit';\nexport type Netkit = typeof netkit;\n",
    );
    expect(formatDiagnostics(ts.getPreEmitDiagnostics(program))).toEqual([]);
    expect(undeclaredTypeImports(program)).toEqual([]);
  });

  it('would report a declaration that takes its types from a devDependency', { timeout: 120_000 }, () => {
    const files = new Map(packageDeclarations());
    const probe = path.join(CONSUMER_DIR, 'node_modules/netkit/dist/probe.d.ts');
    files.set(probe, "import type { WebSocket } from 'ws';\nexport type Probe = WebSocket;\n");
    const program = createProgram([probe], CONSUMER_OPTIONS, files);
    expect(undeclaredTypeImports(program)).toEqual(['ws: types from @types/ws (dist/probe.d.ts)']);
  });

  it('type the events of every public EventEmitter that emits any', () => {
    expect(untypedEmitters(createProgram([ENTRY], projectOptions()))).toEqual(EMIT_NOTHING);
  });

  it('give every listener of a public emitter its payload type', { timeout: 120_000 }, () => {
    const program = consumerProgram(eventListenerCode());
    expect(formatDiagnostics(ts.getPreEmitDiagnostics(program))).toEqual([]);
  });
});
