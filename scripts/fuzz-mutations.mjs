// `npm run fuzz:mutations [-- --target smtp --seed N --cases 2000 --first K]`: the mutation fuzzer
// of test/helpers/fuzz.ts, unbounded. It mutates valid session transcripts of each server (SMTP,
// POP3, FTP with data connections, the HTTP file server, chat, the classic services, the lab
// dashboard's HTTP/SSE/WebSocket endpoints), plays them over loopback and checks after each case
// that the process threw nothing, that a fresh client is still served, and what was stored. The
// bounded tests (test/core/fuzz-*.test.ts) run a few hundred cases of the same fuzzer with a fixed
// seed; this is the exploratory run, with any seed and as many cases as you like. Every failure is
// printed with its reproducer (the bytes, how the writes were split, how the connection ended); a
// case replays alone with `--first INDEX --cases 1`. Exit 1 on any failure.
//
// The helpers are TypeScript beside the tests, so this bundles them first (esbuild, node_modules
// left external) into a temporary directory of the checkout.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
// inside the checkout, so that the bundle's imports find node_modules
const out = await mkdtemp(path.join(root, '.fuzz-build-'));
await build({
  entryPoints: [path.join(root, 'test/helpers/fuzz-run.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  outfile: path.join(out, 'run.mjs'),
  logLevel: 'error',
});
let failed;
try {
  const { runFuzz } = await import(pathToFileURL(path.join(out, 'run.mjs')).href);
  failed = await runFuzz({
    targets: option('target', 'all').split(','),
    seed: Number(option('seed', String(Date.now() % 1_000_000))),
    cases: Number(option('cases', '1000')),
    first: Number(option('first', '0')),
  });
} finally {
  await rm(out, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
