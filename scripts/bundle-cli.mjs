// `npm run build`, second step: the CLI as one ES module plus one chunk per command group, in
// dist/cli-bundle/, which bin/netkit.cjs loads. Node 20's ES module loader resolves, reads and
// links each file in its own round trips through the event loop; the ~30 small modules behind
// `netkit download` cost ~20 ms of start-up that one pre-linked file does not. Only netkit's own
// code is bundled (npm packages stay external and load from node_modules as before), from tsc's
// output, so the bundle runs exactly the code the library ships. The chunks live two directories
// below the package root, like every other dist module, so paths relative to a module (the lab's
// web/ directory) resolve the same.
// The one exception is undici, for `netkit http METHOD URL`: the ~40 files of it that
// src/http/undici-parts.ts uses cost ~25 ms more start-up loaded one by one from node_modules than
// pre-linked in one file, dist/cli-bundle/undici.cjs, which undici-parts.ts finds beside the chunk
// it is bundled in (the library, in dist/http/, finds none and uses node_modules). Its own file,
// not a chunk: `netkit download` imports undici-parts.ts too (for proxies) and does not parse it.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { UNDICI_MODULES } from '../dist/http/undici-parts.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/cli-bundle');
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'dist/cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

// undici.cjs: a function from the paths of UNDICI_MODULES to the modules, each evaluated on first use
const table = Object.values(UNDICI_MODULES)
  .map((id) => `  ${JSON.stringify(id)}: () => require(${JSON.stringify(id)}),`)
  .join('\n');
await build({
  stdin: {
    contents: `const modules = {\n${table}\n};
module.exports = (id) => {
  const load = modules[id];
  if (!load) throw new Error(\`\${id} is not in netkit's undici bundle\`);
  return load();
};\n`,
    resolveDir: root,
    sourcefile: 'undici-modules.cjs',
    loader: 'js',
  },
  outfile: path.join(outdir, 'undici.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // less to parse on every `http` request (~4 ms); names stay, for readable stack traces
  minifyWhitespace: true,
  logLevel: 'warning',
});
