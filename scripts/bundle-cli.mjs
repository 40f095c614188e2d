// `npm run build`, second step: the CLI as one ES module plus one chunk per command group, in
// dist/cli-bundle/, which bin/netkit.cjs loads. Node 20's ES module loader resolves, reads and
// links each file in its own round trips through the event loop; the ~30 small modules behind
// `netkit download` cost ~20 ms of start-up that one pre-linked file does not. Only netkit's own
// code is bundled (npm packages stay external and load from node_modules as before), from tsc's
// output, so the bundle runs exactly the code the library ships. The chunks live two directories
// below the package root, like every other dist module, so paths relative to a module (the lab's
// web/ directory) resolve the same.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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
