// `npm run bench -- smtp [--messages 20000] [--sessions 20] [--size 10240] [--runs 1] [--mode both|connect|reuse]`
//
// Postfix's `smtp-source` (the load generator Postfix itself is tuned with) sends the same load to
// three servers, one after the other, on the same machine:
//   - netkit `smtp serve` (from dist/, its own process): every message durably delivered into a
//     Maildir — written to tmp/, fsynced, renamed into new/, directory fsynced — before its 250;
//   - aiosmtpd (Debian python3-aiosmtpd) with the Sink handler: accepts and stores nothing;
//   - Postfix's `smtp-sink` (C): accepts and stores nothing.
// Two load shapes: `connect` = one SMTP session per message (how most application mailers send,
// smtp-source's default), `reuse` = sessions stay open for many messages (smtp-source -d).
// Messages/s for each, ratio netkit/aiosmtpd (target ≥ 2×) and netkit/smtp-sink. netkit's stored
// message count is checked, so the figure is for real deliveries.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './_net.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '../bin/netkit.cjs');
const PY = '/usr/bin/python3';
const SMTP_SOURCE = '/usr/sbin/smtp-source';
const SMTP_SINK = '/usr/sbin/smtp-sink';

export function parseArgs(args) {
  const o = { messages: 20_000, sessions: 20, size: 10_240, runs: 1, mode: 'both' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[++i];
    if (a === '--messages') o.messages = Number(v);
    else if (a === '--sessions') o.sessions = Number(v);
    else if (a === '--size') o.size = Number(v);
    else if (a === '--runs') o.runs = Number(v);
    else if (a === '--mode' && ['both', 'connect', 'reuse'].includes(v)) o.mode = v;
    else throw new Error(`unknown option ${a} ${v ?? ''}`);
  }
  return o;
}

async function waitForGreeting(port, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('data', (d) => {
        s.end('QUIT\r\n');
        resolve(d.toString().startsWith('220'));
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no SMTP greeting on port ${port}`);
}

export function stopChild(child) {
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

// ---- the servers ----

export async function startNetkit(tmp) {
  const data = path.join(tmp, 'netkit-data');
  // the launcher file, run as a user's shell runs it (see bin/netkit.cjs)
  const child = spawn(
    CLI,
    [
      'smtp',
      'serve',
      '--port',
      '0',
      '--json',
      '--quiet',
      '--no-tls',
      '--data',
      data,
      '--max-clients',
      '1000',
      '--max-per-ip',
      '1000',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]).port);
    });
    child.once('exit', (code) => reject(new Error(`netkit exited ${code}`)));
  });
  child.stdout.resume();
  const stored = async () => {
    let n = 0;
    for (const mb of await readdir(path.join(data, 'mail')).catch(() => [])) {
      n += (await readdir(path.join(data, 'mail', mb, 'new')).catch(() => [])).length;
    }
    return n;
  };
  return { name: 'netkit (durable Maildir)', port, stop: () => stopChild(child), stored };
}

export async function startAiosmtpd() {
  const port = await freePort();
  const child = spawn(
    PY,
    ['-m', 'aiosmtpd', '-n', '-c', 'aiosmtpd.handlers.Sink', '-l', `127.0.0.1:${port}`],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitForGreeting(port);
  return { name: 'aiosmtpd (Sink)', port, stop: () => stopChild(child) };
}

async function startSmtpSink() {
  const port = await freePort();
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // smtp-sink refuses to run as root without -u; 256 = listen backlog
  const args = [...(asRoot ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '256'];
  const child = spawn(SMTP_SINK, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForGreeting(port);
  return { name: 'smtp-sink (C)', port, stop: () => stopChild(child) };
}

// ---- the load ----

function smtpSource(port, opts, reuse) {
  const args = [
    ...(reuse ? ['-d'] : []),
    '-s',
    String(opts.sessions),
    '-m',
    String(opts.messages),
    '-l',
    String(opts.size),
    '-f',
    'bench@example.org',
    '-t',
    'bench@lab.test',
    `127.0.0.1:${port}`,
  ];
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = (performance.now() - start) / 1000;
      if (code !== 0) reject(new Error(`smtp-source exited ${code}: ${err.trim()}`));
      else resolve(seconds);
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => n.toFixed(0).padStart(7);

// Every run's data directory is removed only when the whole benchmark is over: on ext4 without a
// journal (this VM's root), the allocator skips inodes freed in the last few minutes one by one, so
// deleting 20,000 messages makes the next run's file creations several times dearer.
export const leftovers = [];

export async function measure(start, opts, reuse) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-bench-smtp-'));
  leftovers.push(tmp);
  const server = await start(tmp);
  try {
    const rates = [];
    for (let i = 0; i < opts.runs; i++) {
      const before = server.stored ? await server.stored() : 0;
      const seconds = await smtpSource(server.port, opts, reuse);
      if (server.stored) {
        const added = (await server.stored()) - before;
        if (added !== opts.messages)
          throw new Error(`${server.name}: ${added} of ${opts.messages} messages stored`);
      }
      rates.push(opts.messages / seconds);
    }
    return { name: server.name, rate: median(rates) };
  } finally {
    await server.stop();
  }
}

export default async function main(args) {
  const opts = parseArgs(args);
  const modes = opts.mode === 'both' ? ['connect', 'reuse'] : [opts.mode];
  try {
    await runModes(opts, modes);
  } finally {
    for (const dir of leftovers) await rm(dir, { recursive: true, force: true });
  }
}

async function runModes(opts, modes) {
  console.log(
    `smtp-source: ${opts.messages} messages of ${opts.size} bytes, ${opts.sessions} parallel sessions, ` +
      `median of ${opts.runs} run(s); ${os.cpus().length} CPUs`,
  );
  for (const mode of modes) {
    const reuse = mode === 'reuse';
    console.log(
      `\n${reuse ? 'reuse: many messages per session (smtp-source -d)' : 'connect: one session per message (smtp-source default)'}`,
    );
    const results = [];
    for (const start of [startNetkit, () => startAiosmtpd(), () => startSmtpSink()]) {
      const r = await measure(start, opts, reuse);
      results.push(r);
      console.log(`  ${r.name.padEnd(26)} ${fmt(r.rate)} msg/s`);
    }
    const [ours, aio, sink] = results;
    const vsAio = ours.rate / aio.rate;
    console.log(
      `  netkit / aiosmtpd  = ${vsAio.toFixed(2)}×  (target ≥ 2×: ${vsAio >= 2 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `  netkit / smtp-sink = ${(ours.rate / sink.rate).toFixed(2)}×  (no target; sinks store nothing)`,
    );
  }
}
