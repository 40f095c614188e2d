/**
 * The TypeScript compiler as a library user runs it: strict, ESM (`module: nodenext`), Node's types
 * only (no DOM) and `skipLibCheck: false`, so that a declaration netkit ships, or one it pulls in
 * from a dependency, fails here as it would fail in their project. Files can be virtual (a README
 * snippet, declarations emitted in memory) and are served before the disk.
 */
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from './net.js';

export { ts };

export const CONSUMER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  skipLibCheck: false,
  noEmit: true,
};

/** netkit's own compiler options (tsconfig.json), for emitting its declarations. */
export function projectOptions(): ts.CompilerOptions {
  const file = path.join(ROOT, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    file,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${file}`);
  return parsed.options;
}

/** A program over `roots`, reading `virtual` files (absolute path → text) before the disk. */
export function createProgram(
  roots: string[],
  options: ts.CompilerOptions,
  virtual: ReadonlyMap<string, string> = new Map(),
): ts.Program {
  const host = ts.createCompilerHost(options);
  const dirs = new Set<string>();
  for (const file of virtual.keys()) {
    for (let d = path.dirname(file); !dirs.has(d) && d !== path.dirname(d); d = path.dirname(d)) dirs.add(d);
  }
  const { fileExists, readFile, getSourceFile, directoryExists } = host;
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f);
  host.directoryExists = (d) => dirs.has(d) || (directoryExists?.call(host, d) ?? ts.sys.directoryExists(d));
  host.getSourceFile = (f, lang, onError, create) => {
    const text = virtual.get(f);
    return text === undefined
      ? getSourceFile.call(host, f, lang, onError, create)
      : ts.createSourceFile(f, text, lang);
  };
  return ts.createProgram(roots, options, host);
}

/** Diagnostics as `file(line,col): message`, paths relative to the repository. */
export function formatDiagnostics(diagnostics: readonly ts.Diagnostic[]): string[] {
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (!d.file || d.start === undefined) return text;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${path.relative(ROOT, d.file.fileName)}(${line + 1},${character + 1}): ${text}`;
  });
}
