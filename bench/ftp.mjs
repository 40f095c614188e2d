// `npm run bench -- ftp [--size 1G|256M] [--runs 5] [--clients 300] [--entries 1000] [--only transfer|sessions]`
//
// Side by side, same machine, same load, same client:
//  1. RETR and STOR of one big file (1 GiB, as the issue defines it) over loopback with curl as the client, MiB/s:
//     netkit vs vsftpd (target ≥ 0.8×) and vs pyftpdlib (target ≥ 1.5×).
//  2. pyftpdlib's ftpbench method: N clients connecting and logging in concurrently; server RSS
//     with all N logged in (target ≤ 2× pyftpdlib); then N concurrent clients each listing a
//     directory of 1,000 entries and quitting, total seconds (target ≤ 1× pyftpdlib).
// Every server is its own process (netkit through its CLI), started from a temporary directory,
// anonymous login on all of them (read pub/, upload into incoming/).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './_net.mjs';
import { writeVsftpdConfig } from './_vsftpd.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// what users run: the launcher, not dist/cli/main.js (it sets the thread pool and start-up tiering)
const CLI = path.join(here, '../bin/netkit.cjs');
const PY = '/usr/bin/python3';
const MiB = 1024 * 1024;
// BENCH_VERBOSE=1 prints every run's figure
// extra node flags for experiments, e.g. BENCH_NODE_FLAGS='--max-semi-space-size=1'
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

function parseArgs(args) {
  const o = { size: 1024 * MiB, runs: 5, clients: 300, entries: 1000, only: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--size') {
      const m = /^(\d+)([MG])?$/i.exec(v ?? '');
      if (!m) throw new Error('--size 256M or 1G');
      o.size = Number(m[1]) * (m[2]?.toUpperCase() === 'G' ? 1024 * MiB : MiB);
      i++;
    } else if (a === '--runs') o.runs = Number(args[++i]);
    else if (a === '--clients') o.clients = Number(args[++i]);
    else if (a === '--entries') o.entries = Number(args[++i]);
    else if (a === '--only') o.only = args[++i];
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function rssMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

// ---- the servers ----

async function startNetkit(tmp) {
  // as a user's shell runs it (the launcher file itself), unless node flags are being tried
  const [cmd, ...pre] = nodeFlags.length ? [process.execPath, ...nodeFlags, CLI] : [CLI];
  const child = spawn(
    cmd,
    [
      ...pre,
      'ftp',
      'serve',
      '--port',
      '0',
      '--json',
      '--quiet',
      '--no-tls',
      '--root',
      path.join(tmp, 'root'),
      '--data',
      path.join(tmp, 'netkit-data'),
      '--anonymous-upload',
      '--max-clients',
      '5000',
      '--max-per-ip',
      '5000',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n')[0];
      if (buf.includes('\n')) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`netkit exited ${code}`)));
  });
  child.stdout.resume();
  return { name: 'netkit', port, pid: child.pid, stop: () => stopChild(child) };
}

// pyftpdlib as its `python3 -m pyftpdlib -w` CLI sets it up (anonymous, write permission, root
// directory), with the connection limits raised the way ours are (its default max_cons of 512
// counts data channels and cannot hold 300 clients listing at once; its listen backlog of 100 drops
// a burst of 300 connects, ours is Node's 511) and info logging off (ours
// runs with --quiet).
const PYFTPDLIB = `
import logging, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
auth = DummyAuthorizer()
auth.add_anonymous(sys.argv[2], perm='elradfmwMT')
handler = FTPHandler
handler.authorizer = auth
server = FTPServer(('127.0.0.1', int(sys.argv[1])), handler, backlog=511)
server.max_cons = 5000
server.max_cons_per_ip = 0
server.serve_forever()
`;

async function startPyftpdlib(tmp) {
  const port = await freePort();
  const child = spawn(PY, ['-c', PYFTPDLIB, String(port), path.join(tmp, 'root')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!(await waitForPort(port, { pid: child.pid }))) throw new Error(`nothing listening on ${port}`);
  return { name: 'pyftpdlib', port, pid: child.pid, stop: () => stopChild(child) };
}

async function startVsftpd(tmp) {
  const port = await freePort();
  const conf = await writeVsftpdConfig(tmp, {
    root: path.join(tmp, 'root'),
    port,
    extra: ['max_clients=5000', 'max_per_ip=5000'],
  });
  const child = spawn('vsftpd', [conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!(await waitForPort(port, { pid: child.pid }))) throw new Error(`nothing listening on ${port}`);
  return { name: 'vsftpd', port, pid: child.pid, stop: () => stopChild(child) };
}

// ---- 1. throughput with curl ----

function curl(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl ${code}: ${err}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Flush dirty pages first, so no run pays for the previous one's writeback. */
function settle() {
  return new Promise((resolve) => spawn('sync', [], { stdio: 'ignore' }).on('exit', () => resolve()));
}

/**
 * All servers are up at once and each run measures them in turn, so a load spike on the machine
 * hits every server alike rather than whichever happened to run then; the median of the runs
 * is reported.
 *
 * Every upload starts right after a 1 GiB file was deleted (the previous upload, or a copy of the
 * test file before the first): the page cache it writes into is then the memory that file just
 * gave back. On a VM whose balloon reports free pages to the host (virtio-balloon free page
 * reporting, Linux's 2-second delay), pages freed longer ago go back to the host, and touching
 * them again costs a host fault each: `dd` of 1 GiB into the page cache runs at ~7 GB/s right
 * after a deletion and at 0.7–1.8 GB/s a second or more later. Deleting each upload at once, as
 * this benchmark used to, gave the warm memory to whichever server came next — vsftpd after
 * netkit, pyftpdlib after vsftpd — and the cold memory to netkit, whose upload came after the
 * RETR phase: its STOR figure swung between 0.4× and 1.5× vsftpd with the code unchanged.
 */
async function throughput(servers, tmp, opts) {
  const big = path.join(tmp, 'root/pub/big.bin');
  const out = Object.fromEntries(servers.map((s) => [s.name, { retr: [], stor: [] }]));
  let previous = path.join(tmp, 'root/incoming/warm-up.bin');
  await copyFile(big, previous);
  for (let i = 0; i < opts.runs; i++) {
    for (const server of servers) {
      await settle();
      const down = await curl([
        '-o',
        '/dev/null',
        '-w',
        '%{size_download} %{speed_download}',
        `ftp://127.0.0.1:${server.port}/pub/big.bin`,
      ]);
      const [size, speed] = down.split(' ').map(Number);
      if (size !== opts.size) throw new Error(`${server.name}: RETR got ${size} bytes`);
      out[server.name].retr.push(speed / MiB);
      if (process.env.BENCH_VERBOSE)
        console.log(`    run ${i + 1} ${server.name} RETR ${(speed / MiB).toFixed(0)}`);
    }
    for (const server of servers) {
      await rm(previous, { force: true });
      await settle();
      const name = `up-${server.name}-${i}.bin`;
      previous = path.join(tmp, 'root/incoming', name);
      const up = await curl([
        '-T',
        big,
        '-w',
        '%{size_upload} %{speed_upload}',
        `ftp://127.0.0.1:${server.port}/incoming/${name}`,
      ]);
      const [usize, uspeed] = up.split(' ').map(Number);
      if (usize !== opts.size) throw new Error(`${server.name}: STOR sent ${usize} bytes`);
      out[server.name].stor.push(uspeed / MiB);
      if (process.env.BENCH_VERBOSE)
        console.log(`    run ${i + 1} ${server.name} STOR ${(uspeed / MiB).toFixed(0)}`);
    }
  }
  await rm(previous, { force: true });
  return Object.fromEntries(
    Object.entries(out).map(([name, r]) => [name, { retr: median(r.retr), stor: median(r.stor) }]),
  );
}

// ---- 2. sessions (ftpbench method) with a raw async client ----

class Client {
  constructor(socket) {
    this.socket = socket;
    this.buf = '';
    this.waiters = [];
    this.lines = [];
    this.last = '(greeting)';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      this.buf += d;
      let i = this.buf.indexOf('\n');
      while (i !== -1) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        this.lines.push(line);
        i = this.buf.indexOf('\n');
      }
      this.flush();
    });
    socket.on('error', () => {});
  }
  static connect(port) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  flush() {
    while (this.waiters.length) {
      // a reply ends with "NNN " (multi-line replies have "NNN-" first)
      const idx = this.lines.findIndex((l) => /^\d{3} /.test(l));
      if (idx === -1) return;
      const last = this.lines[idx];
      this.lines.splice(0, idx + 1);
      this.waiters.shift()(last);
    }
  }
  reply() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${this.last} within 60 s`)), 60_000);
      this.waiters.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
      this.flush();
    });
  }
  async cmd(line) {
    this.last = line;
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }
  async login() {
    const hello = await this.reply();
    if (!hello.startsWith('220')) throw new Error(`greeting: ${hello}`);
    await this.cmd('USER anonymous');
    const r = await this.cmd('PASS bench@example.com');
    if (!r.startsWith('230')) throw new Error(`login: ${r}`);
  }
  async list(dir) {
    const r = await this.cmd('EPSV');
    const m = /\|\|\|(\d+)\|/.exec(r);
    if (!m) throw new Error(`EPSV: ${r}`);
    const port = Number(m[1]);
    const data = net.connect({ port, host: '127.0.0.1' });
    let bytes = 0;
    data.on('data', (d) => {
      bytes += d.length;
    });
    const closed = new Promise((resolve) => data.on('close', resolve));
    const first = await this.cmd(`LIST ${dir}`);
    if (!first.startsWith('150') && !first.startsWith('125')) throw new Error(`LIST: ${first}`);
    await closed;
    const done = await this.reply();
    if (!done.startsWith('226')) throw new Error(`LIST end: ${done}`);
    return bytes;
  }
  async quit() {
    await this.cmd('QUIT');
    this.socket.destroy();
  }
}

async function sessions(server, opts) {
  const idleRss = await rssMiB(server.pid);
  // phase 1: N concurrent connects + logins, RSS with all logged in
  const t0 = performance.now();
  const clients = await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      const c = await Client.connect(server.port);
      await c.login();
      return c;
    }),
  );
  const loginSeconds = (performance.now() - t0) / 1000;
  const rss = await rssMiB(server.pid);
  await Promise.all(clients.map((c) => c.quit()));
  // phase 2: N concurrent clients each listing the big directory and quitting
  const t1 = performance.now();
  const sizes = await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      const c = await Client.connect(server.port);
      await c.login();
      const bytes = await c.list('/pub/many');
      await c.quit();
      return bytes;
    }),
  );
  const listSeconds = (performance.now() - t1) / 1000;
  if (sizes.some((b) => b < opts.entries * 40)) throw new Error(`${server.name}: short listing`);
  return { loginSeconds, idleRss, rss, listSeconds, totalSeconds: loginSeconds + listSeconds };
}

// ---- report ----

const fmt = (n, d = 1) => n.toFixed(d);
function ratioLine(label, ours, peer, peerName, target, higherIsBetter) {
  const ratio = ours / peer;
  const ok = higherIsBetter ? ratio >= target : ratio <= target;
  console.log(
    `  ${label.padEnd(26)} netkit ${fmt(ours).padStart(8)}  ${peerName} ${fmt(peer).padStart(8)}  ratio ${fmt(ratio, 2)}×  target ${higherIsBetter ? '≥' : '≤'} ${target}×  ${ok ? 'ok' : 'MISSED'}`,
  );
}

export default async function main(args) {
  const opts = parseArgs(args);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-bench-ftp-'));
  try {
    await mkdir(path.join(tmp, 'root/pub/many'), { recursive: true });
    await mkdir(path.join(tmp, 'root/incoming'), { recursive: true, mode: 0o777 });
    const chunk = randomBytes(16 * MiB);
    const fh = await open(path.join(tmp, 'root/pub/big.bin'), 'w');
    for (let written = 0; written < opts.size; written += chunk.length) {
      await fh.write(chunk, 0, Math.min(chunk.length, opts.size - written));
    }
    await fh.close();
    for (let i = 0; i < opts.entries; i++) {
      await writeFile(
        path.join(tmp, 'root/pub/many', `file-${String(i).padStart(4, '0')}.txt`),
        `entry ${i}\n`,
      );
    }
    console.log(
      `ftp benchmark: ${opts.size / MiB} MiB file, median of ${opts.runs} interleaved runs, ${opts.clients} clients, ${opts.entries}-entry directory (${os.cpus().length} CPUs)`,
    );

    if (opts.only !== 'sessions') {
      const servers = [];
      let results;
      try {
        for (const start of [startNetkit, startVsftpd, startPyftpdlib]) servers.push(await start(tmp));
        results = await throughput(servers, tmp, opts);
      } finally {
        for (const server of servers) await server.stop();
      }
      for (const [name, r] of Object.entries(results)) {
        console.log(
          `  ${name.padEnd(10)} RETR ${fmt(r.retr).padStart(8)} MiB/s   STOR ${fmt(r.stor).padStart(8)} MiB/s`,
        );
      }
      const n = results.netkit;
      console.log('transfer throughput (MiB/s, curl over loopback):');
      ratioLine('RETR vs vsftpd', n.retr, results.vsftpd.retr, 'vsftpd   ', 0.8, true);
      ratioLine('STOR vs vsftpd', n.stor, results.vsftpd.stor, 'vsftpd   ', 0.8, true);
      ratioLine('RETR vs pyftpdlib', n.retr, results.pyftpdlib.retr, 'pyftpdlib', 1.5, true);
      ratioLine('STOR vs pyftpdlib', n.stor, results.pyftpdlib.stor, 'pyftpdlib', 1.5, true);
    }

    if (opts.only !== 'transfer') {
      const results = {};
      for (const start of [startNetkit, startPyftpdlib]) {
        const server = await start(tmp);
        try {
          results[server.name] = await sessions(server, opts);
        } finally {
          await server.stop();
        }
        const r = results[server.name];
        console.log(
          `  ${server.name.padEnd(10)} ${opts.clients} logins ${fmt(r.loginSeconds, 2)} s + ${opts.clients} × LIST ${fmt(r.listSeconds, 2)} s = ${fmt(r.totalSeconds, 2)} s; RSS idle ${fmt(r.idleRss)} MiB, with ${opts.clients} logged in ${fmt(r.rss)} MiB (+${fmt(r.rss - r.idleRss)})`,
        );
      }
      const n = results.netkit;
      const p = results.pyftpdlib;
      console.log(`sessions (${opts.clients} concurrent clients, ftpbench method):`);
      ratioLine('logins + LIST+QUIT (s)', n.totalSeconds, p.totalSeconds, 'pyftpdlib', 1, false);
      ratioLine('RSS after logins (MiB)', n.rss, p.rss, 'pyftpdlib', 2, false);
      console.log(
        `  (details: logins ${fmt(n.loginSeconds, 2)} s vs ${fmt(p.loginSeconds, 2)} s, LIST ${fmt(n.listSeconds, 2)} s vs ${fmt(p.listSeconds, 2)} s, RSS growth for ${opts.clients} sessions +${fmt(n.rss - n.idleRss)} MiB vs +${fmt(p.rss - p.idleRss)} MiB)`,
      );
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
