// `npm run bench -- smtp-floor [--messages 5000] [--sessions 20] [--size 10240] [--runs 1]`
//
// How far the `smtp` target (≥ 2× aiosmtpd, one session per message) is from what this machine
// allows. smtp-source sends the same load (one session per message) to:
//   - bench/_min-smtp.mjs storing nothing: the least an SMTP server can do in Node.js;
//   - the same minimal server delivering each message durably into a Maildir exactly as
//     `smtp serve` does (tmp/ with O_SYNC, rename into new/, group fsync of new/) — the floor of
//     any Node server that stores what it acknowledges;
//   - netkit `smtp serve` (smtp-server library, checks, limits, headers, durable Maildir);
//   - the same netkit server with its data directory on tmpfs (/dev/shm), where fsync costs nothing:
//     the most any server built on smtp-server, as the issue prescribes, can do here, however its
//     delivery is designed;
//   - aiosmtpd with the Sink handler (stores nothing).
// Each figure is printed with its ratio to aiosmtpd.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftovers, measure, parseArgs, startAiosmtpd, startNetkit, stopChild } from './smtp.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

async function startMinimal(tmp, durable) {
  const maildir = durable ? path.join(tmp, 'Maildir') : '';
  const child = spawn(process.execPath, [path.join(here, '_min-smtp.mjs'), maildir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]).port);
    });
    child.once('exit', (code) => reject(new Error(`_min-smtp exited ${code}`)));
  });
  const stored = durable ? async () => (await readdir(path.join(maildir, 'new'))).length : undefined;
  const name = durable ? 'minimal Node, durable' : 'minimal Node, no storage';
  return { name, port, stop: () => stopChild(child), stored };
}

/** netkit with its data directory in memory: delivery still writes, renames and fsyncs, for free. */
async function startNetkitOnTmpfs() {
  const tmp = await mkdtemp('/dev/shm/netkit-bench-smtp-');
  leftovers.push(tmp);
  const server = await startNetkit(tmp);
  return { ...server, name: 'netkit, data on tmpfs' };
}

export default async function main(args) {
  const opts = parseArgs(['--messages', '5000', ...args]);
  console.log(
    `smtp-source, one session per message: ${opts.messages} messages of ${opts.size} bytes, ` +
      `${opts.sessions} parallel sessions, median of ${opts.runs} run(s); ${os.cpus().length} CPUs`,
  );
  const starts = [
    (tmp) => startMinimal(tmp, false),
    (tmp) => startMinimal(tmp, true),
    startNetkit,
    // no /dev/shm (not Linux): that line is left out
    ...(existsSync('/dev/shm') ? [startNetkitOnTmpfs] : []),
    () => startAiosmtpd(),
  ];
  try {
    const results = [];
    for (const start of starts) results.push(await measure(start, opts, false));
    const aio = results.at(-1);
    for (const r of results)
      console.log(
        `  ${r.name.padEnd(26)} ${r.rate.toFixed(0).padStart(7)} msg/s  ${(r.rate / aio.rate).toFixed(2)}× aiosmtpd`,
      );
  } finally {
    for (const dir of leftovers) await rm(dir, { recursive: true, force: true });
  }
}
