// `npm run bench -- download [--size-mib 200] [--big-mib 1024] [--runs 5]`
//
// 1. Throttled, 8 connections: a 200 MiB file from nginx with `limit_rate 20m` (per request), fetched
//    by `netkit download -c 8 -k 1M` and by `aria2c -x8 -s8 -k1M`. Wall time of each (best and median of N),
//    the ratio (target ≤ 1.05), and the distance to the physical limit size ÷ (8 × 20 MiB/s)
//    (target ≤ +15%). nginx runs with Debian's `sendfile on`; eight parallel `curl -r` are printed as
//    the reference for what nginx delivers.
// 2. Unthrottled over loopback, one connection: a 1 GiB file from nginx, `netkit download -c 1` vs
//    `curl -o`. CPU seconds (user + sys of the child, from bash's `times`) of each and the ratio
//    (target ≤ 2), best and median of N (CPU time on a shared machine is noisy).
// Both peers run in the same process tree, against the same nginx, on the same file.
// netkit runs as a user's shell runs it: the launcher file itself (see bin/netkit.cjs), not `node FILE`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx } from './_nginx.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'bin', 'netkit.cjs');
const MiB = 1024 * 1024;

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
}

/** Write `mib` MiB of random-looking data (a random 1 MiB block repeated with a counter). */
async function makeFile(file, mib) {
  const fh = await open(file, 'w');
  const block = randomBytes(MiB);
  for (let i = 0; i < mib; i++) {
    block.writeUInt32LE(i, 0);
    await fh.write(block, 0, MiB, i * MiB);
  }
  await fh.close();
}

/** Run a command under bash, returning wall seconds and the child's user+sys CPU seconds. */
function measure(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', '"$@" >/dev/null; rc=$?; times; exit $rc', 'bash', cmd, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}`));
      // `times`: line 1 the shell, line 2 its children: "0m1.234s 0m0.567s"
      const line = out.trim().split('\n').at(-1) ?? '';
      const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      resolve({ wall, cpu: (secs[0] ?? 0) + (secs[1] ?? 0), user: secs[0] ?? 0, sys: secs[1] ?? 0 });
    });
  });
}

async function best(runs, fn) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await fn(i));
  return results;
}

const fmt = (n, d = 2) => n.toFixed(d);
const min = (xs, key) => Math.min(...xs.map((x) => x[key]));
const median = (xs, key) => {
  const v = xs.map((x) => x[key]).sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

export default async function main(args = []) {
  const sizeMiB = option(args, '--size-mib', 200);
  const bigMiB = option(args, '--big-mib', 1024);
  const runs = option(args, '--runs', 5);
  const rateMiB = 20;
  const conns = 8;

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-bench-dl-'));
  const www = path.join(tmp, 'www');
  const out = path.join(tmp, 'out');
  await mkdir(www);
  await mkdir(out);
  const started = [];
  try {
    console.log(`preparing ${sizeMiB} MiB and ${bigMiB} MiB files in ${tmp} …`);
    await makeFile(path.join(www, 'throttled.bin'), sizeMiB);
    await makeFile(path.join(www, 'big.bin'), bigMiB);

    // ---- 1. throttled, 8 connections: wall time vs aria2c ----
    // nginx as Debian ships it (/etc/nginx/nginx.conf: `sendfile on; tcp_nopush on;`). With
    // sendfile off, limit_rate paces 64 KiB writes with millisecond timers and nginx itself
    // delivers ~12% under the rate, whoever the client is (seen with one curl and strace).
    const slow = await startNginx({
      root: www,
      serverExtra: `sendfile on; tcp_nopush on; limit_rate ${rateMiB}m;`,
    });
    started.push(slow);
    const url = `${slow.url}throttled.bin`;
    const limit = (sizeMiB * MiB) / (conns * rateMiB * MiB);
    const ours = await best(runs, async () => {
      await rm(path.join(out, 'ours.bin'), { force: true });
      const r = await measure(CLI, [
        'download',
        url,
        '-c',
        String(conns),
        '-k',
        '1M',
        '-d',
        out,
        '-o',
        'ours.bin',
        '--quiet',
      ]);
      if ((await stat(path.join(out, 'ours.bin'))).size !== sizeMiB * MiB)
        throw new Error('netkit: wrong size');
      return r;
    });
    const aria = await best(runs, async () => {
      await rm(path.join(out, 'aria.bin'), { force: true });
      const r = await measure('aria2c', [
        '--no-conf',
        `-x${conns}`,
        `-s${conns}`,
        '-k1M',
        '--file-allocation=none',
        '--allow-overwrite=true',
        '--auto-file-renaming=false',
        '--console-log-level=error',
        '--summary-interval=0',
        '-d',
        out,
        '-o',
        'aria.bin',
        url,
      ]);
      if ((await stat(path.join(out, 'aria.bin'))).size !== sizeMiB * MiB)
        throw new Error('aria2c: wrong size');
      return r;
    });
    // Reference, not a peer: eight `curl -r` processes each fetching its eighth at once, which is
    // what nginx delivers to clients that cost nothing to start.
    const seg = (sizeMiB * MiB) / conns;
    const curls = await best(runs, () =>
      measure('bash', [
        '-c',
        `for i in $(seq 0 ${conns - 1}); do curl -sS -o /dev/null -r $((i*${seg}))-$(((i+1)*${seg}-1)) ${url} & done; wait`,
      ]),
    );
    await rm(path.join(out, 'ours.bin'), { force: true });
    await rm(path.join(out, 'aria.bin'), { force: true });
    const oursWall = min(ours, 'wall');
    const ariaWall = min(aria, 'wall');
    console.log(
      `\n1) ${sizeMiB} MiB from nginx, limit_rate ${rateMiB}m per connection, ${conns} connections (${runs} runs)`,
    );
    console.log(`   runs netkit:  ${ours.map((r) => fmt(r.wall)).join(' ')} s`);
    console.log(`   runs aria2c:  ${aria.map((r) => fmt(r.wall)).join(' ')} s`);
    console.log(`                                  best     median`);
    console.log(`   netkit download -c ${conns} -k 1M   ${fmt(oursWall)} s   ${fmt(median(ours, 'wall'))} s`);
    console.log(
      `   aria2c -x${conns} -s${conns} -k1M         ${fmt(ariaWall)} s   ${fmt(median(aria, 'wall'))} s`,
    );
    console.log(
      `   ratio netkit/aria2c             ${fmt(oursWall / ariaWall, 3)}    ${fmt(median(ours, 'wall') / median(aria, 'wall'), 3)}  (target ≤ 1.05)`,
    );
    console.log(
      `   physical limit ${fmt(limit)} s (best): netkit +${fmt((oursWall / limit - 1) * 100, 1)}%, aria2c +${fmt((ariaWall / limit - 1) * 100, 1)}%  (target ≤ +15%)`,
    );
    console.log(
      `   reference: ${conns} × curl -r at once ${fmt(min(curls, 'wall'))} s best, ${fmt(median(curls, 'wall'))} s median (+${fmt((min(curls, 'wall') / limit - 1) * 100, 1)}%)`,
    );

    // ---- 2. unthrottled, one connection: CPU vs curl ----
    const fast = await startNginx({ root: www });
    started.push(fast);
    const bigUrl = `${fast.url}big.bin`;
    const oursCpu = await best(runs, async () => {
      await rm(path.join(out, 'ours-big.bin'), { force: true });
      return measure(CLI, ['download', bigUrl, '-c', '1', '-d', out, '-o', 'ours-big.bin', '--quiet']);
    });
    const curlCpu = await best(runs, async () => {
      await rm(path.join(out, 'curl-big.bin'), { force: true });
      return measure('curl', ['-sS', '-o', path.join(out, 'curl-big.bin'), bigUrl]);
    });
    const a = (await stat(path.join(out, 'ours-big.bin'))).size;
    const b = (await stat(path.join(out, 'curl-big.bin'))).size;
    if (a !== bigMiB * MiB || b !== bigMiB * MiB) throw new Error('wrong size in the unthrottled run');
    const oc = min(oursCpu, 'cpu');
    const cc = min(curlCpu, 'cpu');
    const om = median(oursCpu, 'cpu');
    const cm = median(curlCpu, 'cpu');
    console.log(`\n2) ${bigMiB} MiB from nginx, unthrottled loopback, one connection (${runs} runs)`);
    console.log(
      `   runs netkit:  ${oursCpu.map((r) => `${fmt(r.cpu)} (u ${fmt(r.user)} s ${fmt(r.sys)})`).join(', ')} CPU s`,
    );
    console.log(
      `   runs curl:    ${curlCpu.map((r) => `${fmt(r.cpu)} (u ${fmt(r.user)} s ${fmt(r.sys)})`).join(', ')} CPU s`,
    );
    console.log(`                          best       median`);
    console.log(`   netkit download -c 1   ${fmt(oc)} CPU s  ${fmt(om)} CPU s`);
    console.log(`   curl -o                ${fmt(cc)} CPU s  ${fmt(cm)} CPU s`);
    console.log(`   ratio netkit/curl      ${fmt(oc / cc, 3)}      ${fmt(om / cm, 3)}  (target ≤ 2)`);
  } finally {
    for (const n of started) await n.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
