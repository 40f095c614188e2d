// `npm run bench -- startup`: median wall time of `netkit --version` and `netkit ip 10.1.2.3/8`
// (target ≤ 150 ms each). There is no peer for start-up; bare `node -e 0` is measured in the same
// run as the floor, so the figures can be read on any machine. netkit is run as a user's shell runs
// it: the launcher file itself (a shell line first, see bin/netkit.cjs), not `node FILE`. When
// NODE_EXTRA_CA_CERTS is set, Node parses that file while it starts; the floor is then printed
// with and without it (the launcher defers it to netkit's first TLS handshake).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'netkit.cjs');
const TARGET_MS = 150;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

function once([cmd, args]) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Runs the cases round-robin, so a busy machine slows every case alike. */
function measure(cases, runs) {
  const samples = cases.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    cases.forEach(([, ...command], k) => {
      const ms = once(command);
      if (i >= 2) samples[k].push(ms); // two warm-up rounds fill the page cache
    });
  }
  return samples.map((xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }));
}

export default async function startup(argv = []) {
  const runs = Number(argv[0] ?? 20);
  const floors = [['node -e 0 (floor)', process.execPath, ['-e', '0']]];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    floors[0][0] = 'node -e 0 (NODE_EXTRA_CA_CERTS set)';
    floors.push([
      'node -e 0 (floor, without it)',
      'env',
      ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0'],
    ]);
  }
  const cases = [
    ...floors,
    ['netkit --version', cli, ['--version']],
    ['netkit ip 10.1.2.3/8', cli, ['ip', '10.1.2.3/8']],
  ];
  const measured = measure(cases, runs);
  const floor = measured[floors.length - 1];
  console.log(`startup: median of ${runs} interleaved runs each (Node ${process.version})`);
  floors.forEach(([label], i) => {
    const f = measured[i];
    console.log(`  ${label.padEnd(36)} ${f.median.toFixed(1).padStart(7)} ms  (min ${f.min.toFixed(1)})`);
  });
  let ok = true;
  measured.slice(floors.length).forEach((t, i) => {
    const pass = t.median <= TARGET_MS;
    ok &&= pass;
    console.log(
      `  ${cases[floors.length + i][0].padEnd(36)} ${t.median.toFixed(1).padStart(7)} ms  (min ${t.min.toFixed(1)}, max ${t.max.toFixed(1)}; ` +
        `${signed(t.median - floor.median)} ms over the node floor; target <= ${TARGET_MS} ms: ${pass ? 'met' : 'MISSED'})`,
    );
  });
  if (!ok) process.exitCode = 1;
}
