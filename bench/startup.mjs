// `npm run bench -- startup`: median wall time of `netkit --version` and `netkit ip 10.1.2.3/8`
// (target ≤ 150 ms each). There is no peer for start-up; bare `node -e 0` is measured in the same
// run as the floor, so the figures can be read on any machine. Then one small file (2 KiB) fetched
// from a local server (Python's http.server) by `netkit download` and by `netkit http get`: the two
// do the same work, but `http get` runs on undici (loaded from dist/cli-bundle/undici.cjs) and
// `download` on node:http; target: `http get` within 40 ms of `download`. netkit is run as a user's shell runs
// it: the launcher file itself (a shell line first, see bin/netkit.cjs), not `node FILE`. When
// NODE_EXTRA_CA_CERTS is set, Node parses that file while it starts; the floor is then printed
// with and without it (the launcher defers it to netkit's first TLS handshake).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'netkit.cjs');
const TARGET_MS = 150;
const HTTP_GET_OVER_DOWNLOAD_MS = 40;

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
    cases.forEach(([, cmd, args], k) => {
      const ms = once([cmd, args]);
      if (i >= 2) samples[k].push(ms); // two warm-up rounds fill the page cache
    });
  }
  return samples.map((xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }));
}

/** Python's http.server on a free port, serving `dir`; resolves with its port and a stop(). */
function pythonHttpServer(dir) {
  const server = spawn('/usr/bin/python3', ['-m', 'http.server', '0', '--bind', '127.0.0.1', '-d', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d) => {
      seen += d;
      const m = /port (\d+)/.exec(seen);
      if (m) resolve({ port: Number(m[1]), stop: () => server.kill() });
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`python3 -m http.server exited ${code}: ${seen}`)));
  });
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
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netkit-bench-startup-'));
  writeFileSync(path.join(dir, 'small'), Buffer.alloc(2048, 'x'));
  const server = await pythonHttpServer(dir);
  const url = `http://127.0.0.1:${server.port}/small`;
  const out = path.join(dir, 'out');
  const cases = [
    ...floors,
    ['netkit --version', cli, ['--version'], TARGET_MS],
    ['netkit ip 10.1.2.3/8', cli, ['ip', '10.1.2.3/8'], TARGET_MS],
    ['netkit download (local, 2 KiB)', cli, ['download', url, '-o', out, '--quiet']],
    ['netkit http get (local, 2 KiB)', cli, ['http', 'get', url, '-o', out]],
  ];
  let measured;
  try {
    measured = measure(cases, runs);
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const floor = measured[floors.length - 1];
  console.log(`startup: median of ${runs} interleaved runs each (Node ${process.version})`);
  floors.forEach(([label], i) => {
    const f = measured[i];
    console.log(`  ${label.padEnd(36)} ${f.median.toFixed(1).padStart(7)} ms  (min ${f.min.toFixed(1)})`);
  });
  let ok = true;
  measured.slice(floors.length).forEach((t, i) => {
    const [label, , , target] = cases[floors.length + i];
    const pass = target === undefined || t.median <= target;
    ok &&= pass;
    console.log(
      `  ${label.padEnd(36)} ${t.median.toFixed(1).padStart(7)} ms  (min ${t.min.toFixed(1)}, max ${t.max.toFixed(1)}; ` +
        `${signed(t.median - floor.median)} ms over the node floor` +
        (target === undefined ? ')' : `; target <= ${target} ms: ${pass ? 'met' : 'MISSED'})`),
    );
  });
  const [download, httpGet] = measured.slice(-2);
  const over = httpGet.median - download.median;
  const pass = over <= HTTP_GET_OVER_DOWNLOAD_MS;
  console.log(
    `  ${'http get - download'.padEnd(36)} ${signed(over).padStart(7)} ms  (target <= ${HTTP_GET_OVER_DOWNLOAD_MS} ms: ${pass ? 'met' : 'MISSED'})`,
  );
  if (!ok || !pass) process.exitCode = 1;
}
