// `npm run bench -- chat [--clients 500] [--senders 10] [--lines 2000] [--rounds 3] [--mode lines|burst|both]`
//
// Chat fan-out: N clients in one room; S of them each send L lines; we measure deliveries per
// second at the receivers (each line reaches every client but its sender). The same client driver
// runs against `netkit chat serve` and `ncat -l --chat`, each server in its own process.
//
// The driver is two worker processes: one holds the S senders (which also receive), one the
// N − S pure receivers, so sending never waits behind the bulk of the reading. Modes:
//   lines  each line is its own write() — what chat clients do (default)
//   burst  each sender writes all its lines at once (the server reads them in big chunks)
//
// Counting: before timing, one sender sends a sync line and every other client must receive it
// (which proves all N are in the room). After that the only traffic is relayed lines. Each
// sender's last line holds the round's only `!`, and TCP and both servers keep each sender's
// order, so a client has all of its lines once it has seen one `!` from every other sender: that
// moment is the round's end. Counting `!` bytes is one memchr per chunk and is immune to lines
// split across reads (by ncat or by TCP); splitting inserts prefixes, never copies bytes. The
// clock stops there, without the driver scanning every line of the 9,980,000 for its end — that
// scan, and earlier one memchr per sender, not either server, was the bottleneck on two CPUs.
// Receivers read into one reused buffer per socket (`onread`), so the driver allocates nothing
// per read either. Every delivery is still checked after
// the clock stops: every 25th client (and every sender) counts its line ends exactly (robust to
// `<user5> ` / `<guest5> ` decorations and to ncat cutting a line at a read boundary into two
// prefixed pieces: still one line end), and every pure receiver must have received exactly as
// many bytes as every other (both servers send the same bytes to everyone).
// Each server first gets a warm-up round (a tenth of the lines), then the measured round.
// Target: ours ≥ 1.5× ncat.
//
// Diagnostics: BENCH_ONLY=netkit|ncat runs one side; BENCH_NODE_FLAGS="--cpu-prof" profiles ours.
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './_net.mjs';

const HERE = fileURLToPath(import.meta.url);
// the launcher file, run as a user's shell runs it (see bin/netkit.cjs)
const CLI = path.join(path.resolve(path.dirname(HERE), '..'), 'bin/netkit.cjs');
const SYNC = Buffer.from('SyNc'); // no prefix of it is also a suffix, so split-chunk search is exact
const PAD = 'lorem ipsum dolor sit amet';

// ---------------------------------------------------------------- worker (a client process)

const BANG = 0x21; // '!': only the senders' last lines contain it
/** The last line of sender `s`: the round's only `!` from it. */
const markLine = (s) => `s${s} done!\n`;

/**
 * Waits for the sync marker and the end of that line; after that it adds up bytes, counts the
 * senders' end marks (`!`) and, when `exact`, line ends.
 */
function lineCounter(exact) {
  const st = { synced: false, lines: 0, bytes: 0, marksLeft: 0, exact };
  let phase = 'sync';
  let carry = Buffer.alloc(0);
  /** Expect the end marks of this many senders (and forget the ones seen in an earlier round). */
  st.expectMarks = (count) => {
    st.marksLeft = count;
  };
  /** Feed a chunk; true once every expected end mark has arrived. */
  st.feed = (chunk) => {
    let from = 0;
    let b = chunk;
    if (phase === 'sync') {
      b = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const i = b.indexOf(SYNC);
      if (i === -1) {
        carry = Buffer.from(b.subarray(Math.max(0, b.length - (SYNC.length - 1))));
        return false;
      }
      carry = Buffer.alloc(0);
      phase = 'eol';
      from = i + SYNC.length;
    }
    if (phase === 'eol') {
      const nl = b.indexOf(10, from);
      if (nl === -1) return false;
      phase = 'count';
      st.synced = true;
      from = nl + 1;
    }
    st.bytes += b.length - from;
    if (exact) for (let i = b.indexOf(10, from); i !== -1; i = b.indexOf(10, i + 1)) st.lines++;
    if (st.marksLeft === 0) return false;
    for (let i = b.indexOf(BANG, from); i !== -1; i = b.indexOf(BANG, i + 1)) st.marksLeft--;
    return st.marksLeft === 0;
  };
  return st;
}

function workerMain() {
  const clients = [];
  let expectedEach = [];
  let remaining = 0;
  let counting = false;
  let startOfRound = [];
  const send = (m) => process.send(m);

  const connect = async ({ port, count, exactEvery }) => {
    const BATCH = 10;
    for (let i = 0; i < count; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + BATCH); j++) {
        batch.push(
          new Promise((resolve, reject) => {
            const index = clients.length;
            const counter = lineCounter(index % exactEvery === 0);
            let greeted = false;
            const s = net.connect({
              port,
              host: '127.0.0.1',
              // the counter keeps no reference to a chunk, so one buffer serves every read
              onread: {
                buffer: Buffer.allocUnsafe(64 * 1024),
                callback: (n, buf) => {
                  if (!greeted) {
                    greeted = true;
                    resolve();
                  }
                  if (counter.feed(buf.subarray(0, n)) && counting) {
                    remaining--;
                    if (remaining === 0) send({ done: true });
                  }
                },
              },
            });
            s.setNoDelay(true);
            clients.push({ socket: s, counter, index });
            s.on('error', (err) => reject(err));
            s.on('close', () => reject(new Error('closed before its greeting')));
          }),
        );
      }
      await Promise.all(batch);
    }
    send({ connected: clients.length });
  };

  process.on('message', async (m) => {
    try {
      if (m.cmd === 'connect') await connect(m);
      else if (m.cmd === 'sync-send') {
        clients[0].socket.write(`${SYNC} ready\n`);
        clients[0].counter.feed(Buffer.from(`${SYNC}\n`)); // its own sync line never comes back
      } else if (m.cmd === 'sync-wait') {
        while (!clients.every((c) => c.counter.synced)) await new Promise((r) => setTimeout(r, 5));
        const early = clients.reduce((a, c) => a + c.counter.lines, 0);
        send({ synced: true, early });
      } else if (m.cmd === 'arm') {
        // the senders whose end letters each client waits for, and how many lines it must get
        expectedEach = clients.map((c, i) => c.counter.lines + m.expected[i]);
        const first = clients.map((c) => ({ lines: c.counter.lines, bytes: c.counter.bytes }));
        startOfRound = first;
        for (const c of clients) c.counter.expectMarks(m.marks.filter((s) => s !== m.self?.[c.index]).length);
        remaining = clients.filter((c) => c.counter.marksLeft > 0).length;
        counting = true;
        send({ armed: true });
        if (remaining === 0) send({ done: true });
      } else if (m.cmd === 'stats') {
        // after the clock: exact line counts where counted, and bytes received this round
        send({
          stats: clients.map((c, i) => ({
            exact: c.counter.exact,
            lines: c.counter.lines - startOfRound[i].lines,
            want: expectedEach[i] - startOfRound[i].lines,
            bytes: c.counter.bytes - startOfRound[i].bytes,
          })),
        });
      } else if (m.cmd === 'go') {
        const { senders, lines, mode } = m;
        const bodies = [];
        for (let s = 0; s < senders; s++) {
          const out = [];
          for (let i = 0; i < lines - 1; i++) out.push(`s${s} n${i} ${PAD}\n`);
          out.push(markLine(s));
          bodies.push(out);
        }
        if (mode === 'burst') {
          for (let s = 0; s < senders; s++) clients[s].socket.write(bodies[s].join(''));
        } else {
          // one write (one segment) per line, each waiting for the previous to reach the kernel
          await Promise.all(
            bodies.map(async (out, s) => {
              const sock = clients[s].socket;
              for (const line of out) await new Promise((r) => sock.write(line, r));
            }),
          );
        }
      } else if (m.cmd === 'exit') {
        for (const c of clients) c.socket.destroy();
        process.exit(0);
      }
    } catch (err) {
      send({ error: String(err?.message ?? err) });
    }
  });
}

// ---------------------------------------------------------------- parent (the benchmark)

function arg(args, name, def) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Start a server through `sh -c 'ulimit -n …; exec …'`; resolves with {port, child}. */
async function startServer(kind) {
  const port = kind === 'ncat' ? await freePort() : 0;
  const cmd =
    kind === 'ncat'
      ? `exec ncat -v -l --chat --max-conns 100000 127.0.0.1 ${port}`
      : `exec ${process.env.BENCH_NODE_FLAGS ? `"${process.execPath}" ${process.env.BENCH_NODE_FLAGS} ` : ''}"${CLI}" chat serve --port 0 --json --quiet` +
        ' --rate 0 --history 0 --max-clients 100000 --max-per-ip 100000 --max-queue 64M';
  const child = spawn('sh', ['-c', `ulimit -n $(ulimit -Hn) 2>/dev/null; ${cmd}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const check = () => {
      if (kind === 'ncat' && /Listening on/.test(err)) resolve({ port, child });
      const m = /"port":(\d+)/.exec(out);
      if (kind !== 'ncat' && m) resolve({ port: Number(m[1]), child });
    };
    child.stdout.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr.on('data', (d) => {
      err += d;
      check();
    });
    child.on('exit', (code) => reject(new Error(`${kind} exited ${code}: ${err}`)));
  });
}

/** SIGTERM (a graceful close), then SIGKILL if it lingers. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

class Worker {
  constructor() {
    this.proc = fork(HERE, [], { env: { ...process.env, CHAT_BENCH_WORKER: '1' }, stdio: 'inherit' });
    this.waiters = [];
    this.proc.on('message', (m) => {
      if (m.error) {
        for (const w of this.waiters.splice(0)) w.reject(new Error(m.error));
        return;
      }
      const i = this.waiters.findIndex((w) => w.key in m);
      if (i !== -1) this.waiters.splice(i, 1)[0].resolve(m);
    });
  }
  /** Send a command; resolve on the first reply carrying `key`. */
  ask(msg, key, timeoutMs = 120_000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker: no "${key}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        key,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
        reject,
      });
      if (msg) this.proc.send(msg);
    });
  }
  cpu() {
    return cpuSeconds(this.proc.pid);
  }
  exit() {
    this.proc.send({ cmd: 'exit' });
  }
}

/** Every counted client got exactly its lines; every pure receiver got the same bytes. */
function verify(kind, [senders, receivers]) {
  for (const st of [...senders, ...receivers]) {
    if (st.exact && st.lines !== st.want)
      throw new Error(`${kind}: a client received ${st.lines} lines, expected ${st.want}`);
  }
  const bytes = new Set(receivers.map((st) => st.bytes));
  if (bytes.size !== 1)
    throw new Error(`${kind}: receivers got different byte counts: ${[...bytes].join(', ')}`);
}

async function runOne(kind, { clients: n, senders, lines, mode }) {
  const { port, child } = await startServer(kind);
  const sendW = new Worker();
  const recvW = new Worker();
  try {
    await sendW.ask({ cmd: 'connect', port, count: senders, exactEvery: 1 }, 'connected');
    await recvW.ask({ cmd: 'connect', port, count: n - senders, exactEvery: 25 }, 'connected');
    sendW.proc.send({ cmd: 'sync-send' });
    const [a, b] = await Promise.all([
      sendW.ask({ cmd: 'sync-wait' }, 'synced', 60_000),
      recvW.ask({ cmd: 'sync-wait' }, 'synced', 60_000),
    ]);
    if (a.early + b.early) throw new Error(`${kind}: traffic after the sync line`);
    /** One round: arm the counters, let the senders go, wait until every client has its lines. */
    const round = async (count) => {
      const marks = Array.from({ length: senders }, (_, i) => i);
      await sendW.ask(
        { cmd: 'arm', expected: Array(senders).fill(count * (senders - 1)), marks, self: marks },
        'armed',
      );
      await recvW.ask({ cmd: 'arm', expected: Array(n - senders).fill(count * senders), marks }, 'armed');
      const doneS = sendW.ask(null, 'done', 300_000);
      const doneR = recvW.ask(null, 'done', 300_000);
      const cpu0 = [cpuSeconds(child.pid), sendW.cpu(), recvW.cpu()];
      const t0 = process.hrtime.bigint();
      sendW.proc.send({ cmd: 'go', senders, lines: count, mode });
      await Promise.all([doneS, doneR]);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = [cpuSeconds(child.pid), sendW.cpu(), recvW.cpu()].map((v, i) => v - cpu0[i]);
      await verify(kind, [
        (await sendW.ask({ cmd: 'stats' }, 'stats')).stats,
        (await recvW.ask({ cmd: 'stats' }, 'stats')).stats,
      ]);
      return { seconds, cpu };
    };
    // warm-up (a tenth of the load) so both servers are measured in steady state, JIT included
    await round(Math.max(1, Math.round(lines / 10)));
    const { seconds, cpu } = await round(lines);
    const total = lines * senders * (n - 1);
    return { kind, seconds, total, rate: total / seconds, serverCpu: cpu[0], driverCpu: cpu[1] + cpu[2] };
  } finally {
    sendW.exit();
    recvW.exit();
    await stop(child);
  }
}

export default async function main(args = []) {
  const opts = {
    clients: Number(arg(args, 'clients', 500)),
    senders: Number(arg(args, 'senders', 10)),
    lines: Number(arg(args, 'lines', 2000)),
  };
  const rounds = Number(arg(args, 'rounds', 3));
  const modeArg = arg(args, 'mode', 'both');
  const modes = modeArg === 'both' ? ['lines', 'burst'] : [modeArg];
  const kinds = process.env.BENCH_ONLY ? [process.env.BENCH_ONLY] : ['netkit', 'ncat'];
  const deliveries = opts.lines * opts.senders * (opts.clients - 1);
  console.log(
    `chat fan-out: ${opts.clients} clients in one room, ${opts.senders} send ${opts.lines} lines each → ` +
      `${deliveries.toLocaleString('en')} deliveries; best of ${rounds} rounds`,
  );
  for (const mode of modes) {
    console.log(
      `mode "${mode}" (${mode === 'lines' ? 'one write per line' : 'all lines in one write per sender'}):`,
    );
    const best = {};
    for (let r = 0; r < rounds; r++) {
      for (const kind of kinds) {
        const res = await runOne(kind, { ...opts, mode });
        if (!best[kind] || res.rate > best[kind].rate) best[kind] = res;
      }
    }
    for (const kind of kinds) {
      const res = best[kind];
      const label = kind === 'netkit' ? 'netkit chat serve' : 'ncat --chat      ';
      console.log(
        `  ${label}  ${res.seconds.toFixed(2)} s  ${(res.rate / 1e6).toFixed(2)} M deliveries/s` +
          `  (server CPU ${res.serverCpu.toFixed(2)} s, driver CPU ${res.driverCpu.toFixed(2)} s)`,
      );
    }
    if (best.netkit && best.ncat) {
      const ratio = best.netkit.rate / best.ncat.rate;
      console.log(
        `  ratio netkit/ncat: ${ratio.toFixed(2)}× (target ≥ 1.5×) ${ratio >= 1.5 ? 'PASS' : 'FAIL'}`,
      );
      // CPU time is steadier than wall time on a shared machine: deliveries per server CPU-second
      const eff = (r) => r.total / r.serverCpu / 1e6;
      console.log(
        `  server efficiency: netkit ${eff(best.netkit).toFixed(1)} M, ncat ${eff(best.ncat).toFixed(1)} M ` +
          `deliveries per CPU-second (${(eff(best.netkit) / eff(best.ncat)).toFixed(2)}×)`,
      );
    }
  }
}

if (process.env.CHAT_BENCH_WORKER) workerMain();
