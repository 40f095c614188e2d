#!/usr/bin/env node
// `npm run bench -- NAME`: runs bench/NAME.mjs, which measures netkit and its peer in the same run
// and prints both figures and the ratio. Benchmarks never run inside `npm test`.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('_'))
  .map((f) => f.slice(0, -4))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME\navailable: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}
const mod = await import(pathToFileURL(path.join(here, `${name}.mjs`)).href);
await mod.default(process.argv.slice(3));
