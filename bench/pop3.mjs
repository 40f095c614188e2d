// `npm run bench -- pop3 [--messages 5000] [--size 10240] [--runs 3]`
//
// One POP3 session downloads a whole mailbox with pipelined RETR: after login and STAT the client
// writes all N `RETR` commands at once and reads until N responses have ended (N terminators),
// then QUITs. The same Maildir (N × ~10 KB messages, CRLF, some dot-led lines that need stuffing)
// is served by:
//   - netkit `pop3 serve` (from dist/, its own process);
//   - Dovecot's POP3 server (Debian dovecot-pop3d, C), started the way the tests start it
//     (bench/_dovecot.mjs) with UIDLs = Maildir names.
// A warm-up session per server comes first (Dovecot builds its index, both fill the page cache,
// and the retrieved messages are flagged seen), then the timed runs alternate between the servers.
// Every response is checked to start with +OK and the byte total must match between servers.
// Prints messages/s and MB/s of the best run for each, and the ratio netkit/Dovecot (target ≥ 1×).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDovecot } from './_dovecot.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '../bin/netkit.cjs');

function parseArgs(args) {
  const o = { messages: 5000, size: 10_240, runs: 3 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${a} needs a positive integer`);
    if (a === '--messages') o.messages = v;
    else if (a === '--size') o.size = v;
    else if (a === '--runs') o.runs = v;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** A ~size-byte RFC 5322 message with CRLF lines; every 20th body line starts with a dot. */
function makeMessage(i, size) {
  const head =
    `Return-Path: <sender@example.org>\r\nFrom: Sender <sender@example.org>\r\nTo: bench@lab\r\n` +
    `Subject: benchmark message ${i}\r\nDate: ${new Date(1_700_000_000_000 + i * 1000).toUTCString()}\r\n` +
    `Message-ID: <${i}.bench@example.org>\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const lines = [];
  let n = head.length;
  for (let l = 0; n < size; l++) {
    const text = `${l % 20 === 19 ? '.' : ''}line ${l} of message ${i} `.padEnd(74, 'abcdefghij');
    lines.push(text);
    n += text.length + 2;
  }
  return Buffer.from(`${head}${lines.join('\r\n')}\r\n`);
}

/** Write N messages into a Maildir's new/ directly (setup speed; names in the Maildir format). */
async function fillMaildir(dir, count, size) {
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(dir, sub), { recursive: true });
  const base = Math.floor(Date.now() / 1000) - count;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const name = `${base + i}.M${String(i).padStart(6, '0')}P${process.pid}Q${i}.bench`;
      await writeFile(path.join(dir, 'new', name), makeMessage(i, size), { mode: 0o600 });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** Start `netkit pop3 serve` and read its --json listening line. */
async function startNetkit(dataDir) {
  // the launcher file, run as a user's shell runs it (see bin/netkit.cjs)
  const child = spawn(
    CLI,
    ['pop3', 'serve', '--port', '0', '--data', dataDir, '--auth-accept-any', '--json'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`netkit pop3 serve exited ${code}`)));
  });
  return {
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

/**
 * One session: greeting, USER/PASS, STAT, N pipelined RETRs, QUIT. Resolves with the timings of
 * the RETR phase and the number of bytes received in it.
 */
function session(port, user, password, count) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    let phase = 'greeting';
    let text = '';
    let t0 = 0;
    let ended = 0;
    let bytes = 0;
    let tail = Buffer.alloc(0);
    let retrStart = 0;
    let badStatus = 0;
    let statusAt = 0;
    const fail = (msg) => {
      sock.destroy();
      reject(new Error(msg));
    };
    const lineStep = (onLine) => {
      const i = text.indexOf('\r\n');
      if (i === -1) return;
      const line = text.slice(0, i);
      text = text.slice(i + 2);
      onLine(line);
    };
    sock.on('data', (chunk) => {
      if (phase !== 'retr') {
        text += chunk.toString('latin1');
        lineStep((line) => {
          if (!line.startsWith('+OK')) return fail(`${phase}: ${line}`);
          if (phase === 'greeting') {
            phase = 'user';
            sock.write(`USER ${user}\r\n`);
          } else if (phase === 'user') {
            phase = 'pass';
            t0 = performance.now();
            sock.write(`PASS ${password}\r\n`);
          } else if (phase === 'pass') {
            phase = 'stat';
            sock.write('STAT\r\n');
          } else if (phase === 'stat') {
            const n = Number(line.split(' ')[1]);
            if (n !== count) return fail(`STAT says ${n} messages, expected ${count}`);
            phase = 'retr';
            retrStart = performance.now();
            let cmds = '';
            for (let m = 1; m <= count; m++) cmds += `RETR ${m}\r\n`;
            sock.write(cmds);
          } else if (phase === 'quit') {
            sock.end();
          }
        });
        return;
      }
      // RETR phase: count terminators ("\r\n.\r\n" never comes from stuffed content) and
      // check that every response starts with +OK. Offsets are absolute in the RETR stream; the
      // last 4 bytes are carried over so a terminator split across chunks is still found.
      const bufStart = bytes - tail.length;
      bytes += chunk.length;
      const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        if (statusAt >= 0 && statusAt + 3 <= bufStart + buf.length) {
          const at = statusAt - bufStart;
          if (buf.toString('latin1', at, at + 3) !== '+OK') badStatus++;
          statusAt = -1;
        }
        const at = buf.indexOf('\r\n.\r\n', pos);
        if (at === -1) break;
        ended++;
        pos = at + 5;
        if (ended < count) statusAt = bufStart + pos;
      }
      tail = buf.subarray(Math.max(pos, buf.length - 4));
      if (ended >= count) {
        const t1 = performance.now();
        phase = 'quit';
        text = '';
        sock.write('QUIT\r\n');
        sock.once('close', () =>
          resolve({ loginMs: retrStart - t0, retrMs: t1 - retrStart, bytes, badStatus }),
        );
      }
    });
    sock.on('error', (err) => reject(err));
  });
}

export default async function pop3Bench(args) {
  const o = parseArgs(args);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-bench-pop3-'));
  const dataDir = path.join(tmp, 'data');
  const maildir = path.join(dataDir, 'mail', 'bench');
  console.log(
    `pop3 benchmark: one session, ${o.messages} × ${o.size} B messages, pipelined RETR, ${o.runs} run(s)`,
  );
  await fillMaildir(maildir, o.messages, o.size);
  const netkit = await startNetkit(dataDir);
  const dovecot = await startDovecot({ maildir });
  const servers = [
    { name: 'netkit', port: netkit.port, user: 'bench', password: 'any' },
    { name: 'dovecot', port: dovecot.port, user: 'bench', password: dovecot.password },
  ];
  try {
    for (const s of servers) {
      const warm = await session(s.port, s.user, s.password, o.messages);
      s.bytes = warm.bytes;
      console.log(
        `  warm-up ${s.name}: PASS+STAT ${warm.loginMs.toFixed(0)} ms, RETR phase ${warm.retrMs.toFixed(0)} ms`,
      );
    }
    if (servers[0].bytes !== servers[1].bytes) {
      console.log(`  note: bytes differ: netkit ${servers[0].bytes}, dovecot ${servers[1].bytes}`);
    }
    for (let r = 0; r < o.runs; r++) {
      for (const s of servers) {
        const res = await session(s.port, s.user, s.password, o.messages);
        if (res.badStatus) throw new Error(`${s.name}: ${res.badStatus} responses without +OK`);
        const rate = o.messages / (res.retrMs / 1000);
        const whole = o.messages / ((res.retrMs + res.loginMs) / 1000);
        console.log(
          `  run ${r + 1} ${s.name.padEnd(7)}: ${rate.toFixed(0).padStart(6)} msg/s ` +
            `${(res.bytes / 1e6 / (res.retrMs / 1000)).toFixed(0).padStart(4)} MB/s in the RETR phase ` +
            `(${res.retrMs.toFixed(0)} ms); PASS+STAT ${res.loginMs.toFixed(0)} ms; whole session ${whole.toFixed(0)} msg/s`,
        );
        if (!s.best || rate > s.best.rate) s.best = { ...res, rate };
        (s.rates ??= []).push(rate);
        if (!s.bestWhole || whole > s.bestWhole) s.bestWhole = whole;
      }
    }
  } finally {
    await netkit.stop();
    await dovecot.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  const [ours, dv] = servers;
  const mbps = (b) => (b.bytes / 1e6 / (b.retrMs / 1000)).toFixed(0);
  console.log(`best of ${o.runs}, pipelined RETR phase:`);
  console.log(`  netkit : ${ours.best.rate.toFixed(0)} msg/s (${mbps(ours.best)} MB/s)`);
  console.log(`  dovecot: ${dv.best.rate.toFixed(0)} msg/s (${mbps(dv.best)} MB/s)`);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `median RETR phase: netkit ${median(ours.rates).toFixed(0)} msg/s, dovecot ${median(dv.rates).toFixed(0)} msg/s, ${(median(ours.rates) / median(dv.rates)).toFixed(2)}×`,
  );
  const ratio = ours.best.rate / dv.best.rate;
  const wholeRatio = ours.bestWhole / dv.bestWhole;
  console.log(
    `whole session (PASS to last message): netkit ${ours.bestWhole.toFixed(0)} msg/s, dovecot ${dv.bestWhole.toFixed(0)} msg/s, ${wholeRatio.toFixed(2)}×`,
  );
  console.log(`ratio netkit/dovecot: ${ratio.toFixed(2)}× (target ≥ 1×) ${ratio >= 1 ? 'PASS' : 'FAIL'}`);
}
