// `npm run bench -- pop3-client [--messages 2000] [--size 10240] [--runs 3]`
//
// The POP3 *client* side: one session downloads a whole mailbox from the same Dovecot POP3 server
// (Debian dovecot-pop3d, started as the tests start it, bench/_dovecot.mjs) with
//   - netkit's Pop3Client.retrMany() (dist/, pipelined RETR, window 32, bodies dot-unstuffed into
//     Buffers), in this process;
//   - Python's poplib (Debian /usr/bin/python3): the standard client, one RETR at a time, each
//     message returned as a list of lines — the peer the mail chapter teaches with.
// A warm-up session comes first (Dovecot builds its index, the page cache is filled); then the timed
// runs alternate. Both must retrieve the same number of bytes. Prints messages/s and MB/s of the best
// run of each and the ratio netkit/poplib (target ≥ 1×).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Pop3Client } from '../dist/mail/pop3-client.js';
import { startDovecot } from './_dovecot.mjs';

const POPLIB = `
import poplib, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter()
p = poplib.POP3('127.0.0.1', port)
p.user('bench'); p.pass_('pass')
total = 0
for i in range(1, n + 1):
    resp, lines, octets = p.retr(i)
    total += sum(len(l) + 2 for l in lines)
p.quit()
print(time.perf_counter() - t, total)
`;

function parseArgs(args) {
  const o = { messages: 2000, size: 10240, runs: 3 };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i]?.replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown option ${args[i]}`);
    o[k] = Number(args[i + 1]);
  }
  return o;
}

async function fillMaildir(dir, n, size) {
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(dir, sub), { recursive: true });
  const line = `${'x'.repeat(76)}\r\n`;
  for (let i = 0; i < n; i++) {
    const head = `From: bench@lab\r\nTo: bench@lab\r\nSubject: message ${i}\r\n\r\n.dot-led line\r\n`;
    const body = line.repeat(Math.max(0, Math.floor((size - head.length) / line.length)));
    await writeFile(path.join(dir, 'new', `${1700000000 + i}.M${i}P1.bench`), head + body);
  }
}

async function ours(port, n) {
  const t = process.hrtime.bigint();
  const c = await Pop3Client.connect({ port });
  await c.login('bench', 'pass');
  const numbers = Array.from({ length: n }, (_, i) => i + 1);
  let total = 0;
  await c.retrEach(numbers, (_n, m) => {
    total += m.length;
  });
  await c.quit();
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, bytes: total };
}

function poplib(port, n) {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', POPLIB, String(port), String(n)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`poplib failed: ${err}`));
      const [s, b] = out.trim().split(/\s+/);
      resolve({ seconds: Number(s), bytes: Number(b) });
    });
  });
}

export default async function pop3ClientBench(args) {
  const o = parseArgs(args);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-bench-pop3c-'));
  const maildir = path.join(tmp, 'Maildir');
  console.log(
    `pop3-client benchmark: Dovecot, ${o.messages} × ${o.size} B messages, one session, ${o.runs} run(s)`,
  );
  await fillMaildir(maildir, o.messages, o.size);
  const dovecot = await startDovecot({ maildir });
  try {
    await ours(dovecot.port, o.messages); // warm-up
    const best = { ours: Number.POSITIVE_INFINITY, poplib: Number.POSITIVE_INFINITY };
    let bytes;
    for (let r = 0; r < o.runs; r++) {
      const a = await ours(dovecot.port, o.messages);
      const b = await poplib(dovecot.port, o.messages);
      if (a.bytes !== b.bytes) throw new Error(`byte totals differ: netkit ${a.bytes}, poplib ${b.bytes}`);
      bytes = a.bytes;
      best.ours = Math.min(best.ours, a.seconds);
      best.poplib = Math.min(best.poplib, b.seconds);
    }
    const fmt = (s) =>
      `${(o.messages / s).toFixed(0).padStart(7)} msg/s  ${(bytes / s / 1e6).toFixed(1).padStart(6)} MB/s  (${s.toFixed(3)} s)`;
    console.log(`netkit Pop3Client (pipelined): ${fmt(best.ours)}`);
    console.log(`Python poplib               : ${fmt(best.poplib)}`);
    console.log(`ratio netkit/poplib: ${(best.poplib / best.ours).toFixed(2)}×  (target ≥ 1×)`);
  } finally {
    await dovecot.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
