// `npm run bench -- chat-idle [--connections 10000] [--workers 4]`
//
// Idle capacity: open N connections to the chat server, let them sit, and read the server's
// resident memory (VmRSS and the peak VmHWM from /proc/PID/status). Target: ≤ 150 MB at 10,000.
// The same driver then tries `ncat -l --chat` and reports where it stops (its select() loop is
// limited to FD_SETSIZE = 1024 descriptors).
//
// Each server runs under `sh -c 'ulimit -n <hard limit>; exec …'`. The clients are spread over
// several worker processes (each raises its own descriptor limit the same way) and each worker
// uses its own loopback source address (127.0.0.10, .11, …) so ephemeral ports never run out.
// A connection counts once the server has greeted it (our banner; ncat's "<announce>" line);
// a connection that gets no greeting in time, or is closed, counts as refused. ncat is driven
// gently (one client process at a time, 10 connections in flight, 30 s patience): it quits
// outright when it accepts a connection whose client has already given up.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './_net.mjs';

const HERE = fileURLToPath(import.meta.url);
// the launcher file, run as a user's shell runs it (see bin/netkit.cjs)
const CLI = path.join(path.resolve(path.dirname(HERE), '..'), 'bin/netkit.cjs');

// ---------------------------------------------------------------- worker

function workerMain() {
  const sockets = [];
  let alive = 0;
  process.on('message', async (m) => {
    if (m.cmd === 'exit') {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
    if (m.cmd !== 'connect') return;
    let ok = 0;
    let failed = 0;
    let firstError = '';
    const BATCH = m.batch;
    for (let i = 0; i < m.count && failed < 20; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(m.count, i + BATCH); j++) {
        batch.push(
          new Promise((resolve) => {
            const s = net.connect({ port: m.port, host: '127.0.0.1', localAddress: m.source });
            let settled = false;
            let counted = false;
            const done = (good, why) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              if (good) {
                ok++;
                alive++;
                counted = true;
              } else {
                failed++;
                if (!firstError) firstError = why;
                s.destroy();
              }
              resolve();
            };
            const timer = setTimeout(
              () => done(false, `no greeting within ${m.patienceMs / 1000} s`),
              m.patienceMs,
            );
            s.on('error', (err) => done(false, err.code ?? err.message));
            s.once('data', () => done(true));
            s.on('close', () => {
              if (counted) {
                counted = false;
                alive--;
              }
              done(false, 'closed by the server');
            });
            s.on('data', () => {}); // keep reading whatever the server says (announcements)
            sockets.push(s);
          }),
        );
      }
      await Promise.all(batch);
      process.send({ progress: ok });
    }
    process.send({ connected: ok, failed, firstError });
  });
  process.on('message', (m) => {
    if (m.cmd === 'alive') process.send({ alive });
  });
}

// ---------------------------------------------------------------- parent

function arg(args, name, def) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}

function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

async function startServer(kind) {
  const port = kind === 'ncat' ? await freePort() : 0;
  const cmd =
    kind === 'ncat'
      ? `exec ncat -v -l --chat --max-conns 100000 127.0.0.1 ${port}`
      : `exec "${CLI}" chat serve --port 0 --json --quiet --max-clients 100000 --max-per-ip 100000`;
  const child = spawn('sh', ['-c', `ulimit -n $(ulimit -Hn) 2>/dev/null; ${cmd}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const ready = new Promise((resolve, reject) => {
    let out = '';
    const check = () => {
      if (kind === 'ncat' && /Listening on/.test(err)) resolve(port);
      const m = /"port":(\d+)/.exec(out);
      if (kind !== 'ncat' && m) resolve(Number(m[1]));
    };
    child.stdout.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr.on('data', (d) => {
      err += d;
      if (err.length > 100_000) err = err.slice(-10_000);
      check();
    });
    child.on('exit', (code) => reject(new Error(`${kind} exited ${code}: ${err.slice(-300)}`)));
  });
  return { port: await ready, child, lastError: () => err.trim().split('\n').at(-1) ?? '' };
}

function startWorker() {
  const child = spawn(
    'sh',
    ['-c', `ulimit -n $(ulimit -Hn) 2>/dev/null; exec "${process.execPath}" "${HERE}"`],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, CHAT_IDLE_WORKER: '1' },
    },
  );
  return child;
}

function ask(child, msg, key, onOther) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (key in m) {
        child.off('message', on);
        resolve(m);
      } else onOther?.(m);
    };
    child.on('message', on);
    child.send(msg);
  });
}

async function runOne(kind, total, workers, { batch, patienceMs, sequential }) {
  const { port, child, lastError } = await startServer(kind);
  const base = memory(child.pid);
  const procs = Array.from({ length: workers }, () => startWorker());
  const per = Math.ceil(total / workers);
  const t0 = Date.now();
  const progress = new Array(workers).fill(0);
  let lastPrint = 0;
  const connectWorker = (w, i) =>
    ask(
      w,
      {
        cmd: 'connect',
        port,
        count: Math.min(per, total - i * per),
        source: `127.0.0.${10 + i}`,
        batch,
        patienceMs,
      },
      'connected',
      (m) => {
        if (m.progress === undefined) return;
        progress[i] = m.progress;
        const sum = progress.reduce((a, b) => a + b, 0);
        if (process.stdout.isTTY && Date.now() - lastPrint > 500) {
          lastPrint = Date.now();
          process.stdout.write(`\r  ${kind}: ${sum} connected…`);
        }
      },
    );
  let results = [];
  if (sequential) {
    for (const [i, w] of procs.entries()) {
      const r = await connectWorker(w, i);
      results.push(r);
      if (r.failed > 0 || child.exitCode !== null || child.signalCode !== null) break;
    }
  } else results = await Promise.all(procs.map(connectWorker));
  if (process.stdout.isTTY) process.stdout.write('\r\u001b[2K');
  const seconds = (Date.now() - t0) / 1000;
  // let the server settle (timers, GC), then read its memory
  await new Promise((r) => setTimeout(r, 2000));
  const mem = memory(child.pid);
  const alive = (await Promise.all(procs.map((w) => ask(w, { cmd: 'alive' }, 'alive')))).reduce(
    (a, m) => a + m.alive,
    0,
  );
  const serverUp = child.exitCode === null && child.signalCode === null;
  const connected = results.reduce((a, r) => a + r.connected, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  const firstError = results.find((r) => r.firstError)?.firstError ?? '';
  for (const w of procs) w.send({ cmd: 'exit' });
  const serverMessage = serverUp ? '' : lastError();
  if (serverUp) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  return { kind, connected, failed, alive, seconds, base, mem, serverUp, firstError, serverMessage };
}

export default async function main(args = []) {
  const total = arg(args, 'connections', 10_000);
  const workers = arg(args, 'workers', 4);
  console.log(`chat-idle: ${total.toLocaleString('en')} idle connections (${workers} client processes)`);
  const ours = await runOne('netkit', total, workers, { batch: 50, patienceMs: 5000, sequential: false });
  const mb = (v) => `${v.toFixed(1)} MB`;
  console.log(
    `  netkit chat serve: ${ours.alive.toLocaleString('en')} held (connected in ${ours.seconds.toFixed(1)} s), ` +
      `RSS ${mb(ours.mem.rss)} (idle server ${mb(ours.base.rss)}, peak ${mb(ours.mem.hwm)}), ` +
      `${(((ours.mem.rss - ours.base.rss) * 1024) / Math.max(1, ours.alive)).toFixed(1)} KB per connection`,
  );
  if (ours.failed) console.log(`    ${ours.failed} refused (first: ${ours.firstError})`);
  const target = ours.alive >= total && ours.mem.rss <= 150;
  console.log(`    target: ${total.toLocaleString('en')} held at ≤ 150 MB RSS — ${target ? 'PASS' : 'FAIL'}`);

  const nc = await runOne('ncat', total, workers, { batch: 10, patienceMs: 30_000, sequential: true });
  const ncatMost = nc.serverUp ? nc.alive : nc.connected;
  console.log(
    nc.serverUp
      ? `  ncat --chat: ${nc.alive.toLocaleString('en')} held, ${nc.failed} refused` +
          `${nc.firstError ? ` (first: ${nc.firstError})` : ''}; RSS ${mb(nc.mem.rss)}`
      : `  ncat --chat: stopped at ${nc.connected.toLocaleString('en')} connections, then exited (dropping them all): ` +
          `"${nc.serverMessage}"`,
  );
  console.log(`  netkit held ${(ours.alive / Math.max(1, ncatMost)).toFixed(1)}× the connections ncat could`);
}

if (process.env.CHAT_IDLE_WORKER) workerMain();
