/**
 * What `npm publish` would ship (`npm pack --dry-run`, from the last build): everything the library,
 * the CLI and the lab's dashboard load at run time, and nothing that is not the package — tests,
 * sources, data directories, keys, a second copy of the CLI, build output whose source is gone
 * (dist/ is never cleaned, so a renamed module would ship twice). Every source map must be usable where
 * it lands: its sources shipped or embedded, not pointing at a src/ that is not in the package. And
 * the entry loads by its name both ways a Node ≥ 20.19 user may load it: `import` and `require()`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/net.js';

interface PackedFile {
  path: string;
  size: number;
}

let files: PackedFile[] = [];
let names = new Set<string>();

beforeAll(async () => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  files = (JSON.parse(stdout) as Array<{ files: PackedFile[] }>)[0]!.files;
  names = new Set(files.map((f) => f.path));
}, 60_000);

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, Record<string, string>>;
};

describe('the npm package', () => {
  it('holds what package.json points at, the CLI bundle and the dashboard', () => {
    const entryPoints = [
      pkg.main,
      pkg.types,
      ...Object.values(pkg.bin),
      ...Object.values(pkg.exports).flatMap((conditions) => Object.values(conditions)),
    ].map((p) => path.posix.normalize(p));
    const required = [
      ...entryPoints,
      'package.json',
      'README.md',
      'dist/cli-bundle/main.js',
      'dist/cli-bundle/undici.cjs',
      'web/index.html',
      'web/app.js',
      'web/app.css',
    ];
    expect(required.filter((p) => !names.has(p))).toEqual([]);
  });

  it('holds the compiled library, with declarations, for every library module in src/', () => {
    const missing: string[] = [];
    for (const f of files) {
      // every module the library's own .js files import is in the package
      if (!/^dist\/(?!cli-bundle\/).*\.js$/.test(f.path)) continue;
      const text = readFileSync(path.join(ROOT, f.path), 'utf8');
      for (const m of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = path.posix.join(path.posix.dirname(f.path), m[1]!);
        if (!names.has(target)) missing.push(`${f.path} imports ${target}`);
      }
      if (!names.has(f.path.replace(/\.js$/, '.d.ts'))) missing.push(`${f.path} has no .d.ts`);
    }
    expect(missing).toEqual([]);
    expect(names).toContain('dist/index.d.ts');
  });

  it('ships no tests, sources, data, keys, or build output without a source', () => {
    const forbidden = files
      .map((f) => f.path)
      .filter(
        (p) =>
          /^(test|src|bench|scripts|docs|netkit-data|node_modules|\.ci|\.github)\//.test(p) ||
          /^dist\/cli\//.test(p) || // the CLI ships bundled in dist/cli-bundle/
          /(^|\/)\.env|\.(pem|key|p12|tgz|log)$|(^|\/)(tsconfig.*|vitest\.config\.ts|biome\.json)$/.test(p),
      );
    expect(forbidden).toEqual([]);
    const stale = files
      .map((f) => f.path)
      .filter((p) => /^dist\/(?!cli-bundle\/).*\.js$/.test(p))
      .filter((p) => !existsSync(path.join(ROOT, 'src', p.slice('dist/'.length).replace(/\.js$/, '.ts'))));
    expect(stale).toEqual([]);
  });

  it('ships source maps whose sources are in the package or embedded in the map', () => {
    const unusable: string[] = [];
    for (const f of files.filter((x) => x.path.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(path.join(ROOT, f.path), 'utf8')) as {
        sources: string[];
        sourcesContent?: Array<string | null>;
      };
      map.sources.forEach((source, i) => {
        const shipped = names.has(path.posix.join(path.posix.dirname(f.path), source));
        if (!shipped && typeof map.sourcesContent?.[i] !== 'string') unusable.push(`${f.path}: ${source}`);
      });
    }
    expect(unusable.slice(0, 5)).toEqual([]);
  });

  it('loads by its name from an ES module and from CommonJS (require() of ES modules, Node ≥ 20.19)', async () => {
    // a package may name itself: this resolves 'netkit' through package.json "exports" as a user's would
    const run = (args: string[]) => promisify(execFile)(process.execPath, args, { cwd: ROOT });
    const esm = await run([
      '--input-type=module',
      '-e',
      "console.log(typeof (await import('netkit')).urljoin)",
    ]);
    const cjs = await run(['-e', "console.log(typeof require('netkit').urljoin)"]);
    expect([esm.stdout.trim(), cjs.stdout.trim()]).toEqual(['function', 'function']);
  });

  it('has no file above 1 MiB', () => {
    expect(files.filter((f) => f.size > 1024 * 1024).map((f) => `${f.path} ${f.size}`)).toEqual([]);
  });
});
