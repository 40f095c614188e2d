/**
 * A server root whose path has bytes that are not UTF-8 (`caf\xe9`, made on a Latin-1 system): Node
 * reads the command line and the working directory as UTF-8, so the path arrives with U+FFFD in
 * place of the byte and names nothing. `ftp serve` used to create a new directory under the mangled
 * name and serve it, empty; `http serve` called the directory missing. Both refuse it in words now,
 * before anything is created. The byte is put on the command line by the shell (`printf '\351'`):
 * Node's own spawn would encode the argument as UTF-8.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, run, tempDir } from '../helpers/net.js';

let base: string;
let cleanup: () => Promise<void>;
/** `BASE/caf\xe9` as the kernel names it */
let latin1Dir: Buffer;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-unnamable-'));
  latin1Dir = Buffer.concat([Buffer.from(`${base}/caf`), Buffer.from([0xe9])]);
  await mkdir(latin1Dir);
});
afterAll(() => cleanup());

/** Run `sh -c SCRIPT` with $NODE, $CLI and $DIR (the Latin-1 directory, printed by printf). */
function shell(script: string) {
  return run('/bin/sh', [
    '-c',
    `NODE="$1"; CLI="$2"; DIR="$(printf '%s/caf\\351' "$3")"; ${script}`,
    'sh',
    process.execPath,
    CLI,
    base,
  ]);
}

const refusal = (what: string) =>
  `netkit: ${what}: the path has bytes that are not UTF-8 (shown as \uFFFD), and netkit can only serve from a directory whose path is UTF-8; rename it, or serve a copy\n`;

describe('a server root whose path is not UTF-8', () => {
  it.each([
    ['http serve DIR', 'exec "$NODE" "$CLI" http serve "$DIR" --port 0', (b: string) => `${b}/caf\uFFFD`],
    [
      'ftp serve --root DIR',
      'exec "$NODE" "$CLI" ftp serve --root "$DIR" --port 0 --data "$DIR/data"',
      (b: string) => `--root ${b}/caf\uFFFD`,
    ],
    ['http serve . in DIR', 'cd "$DIR" && exec "$NODE" "$CLI" http serve . --port 0', () => '.'],
    [
      'ftp serve in DIR (the default root, in ./netkit-data)',
      'cd "$DIR" && exec "$NODE" "$CLI" ftp serve --port 0',
      (b: string) => `the FTP root ${b}/caf\uFFFD/netkit-data/ftp`,
    ],
  ] as const)('%s: refused in words, exit 2, nothing created', async (_name, script, what) => {
    const r = await shell(script);
    expect([r.code, r.stderr]).toEqual([2, refusal(what(base))]);
    // no directory under the mangled name beside the real one, nothing made inside the real one
    expect(await readdir(base, { encoding: 'buffer' })).toEqual([latin1Dir.subarray(base.length + 1)]);
    expect(await readdir(latin1Dir)).toEqual([]);
  });
});
