// `npm run bench -- lab`: the dashboard API over 10,000 stored messages — a page of the message
// list (target ≤ 100 ms) and searches in Mailpit-style syntax (target ≤ 300 ms) — plus the size
// of the dashboard's JavaScript (target ≤ 300 KB) and, when `netkit lab` can start, the time until
// every service listens (target ≤ 1.5 s).
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccountStore } from '../dist/core/accounts.js';
import { startDashboard } from '../dist/lab/dashboard.js';
import { MailIndex } from '../dist/lab/mail-index.js';
import { WireLog } from '../dist/lab/wire.js';
import { Maildir } from '../dist/mail/maildir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COUNT = Number(process.env.LAB_BENCH_MESSAGES ?? 10_000);

function message(i) {
  const from = ['alice@example.org', 'bob@example.net', 'carol@example.com', 'dave@example.org'][i % 4];
  const subject = ['Quarterly report', 'Lunch?', 'Build failed', 'Invoice 2026-11', 'Re: design review'][
    i % 5
  ];
  const body = `Hello,\r\n\r\nThis is message number ${i}. ${'Lorem ipsum dolor sit amet. '.repeat(30)}\r\n`;
  const attach = i % 7 === 0;
  const date = new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toUTCString();
  if (!attach) {
    return Buffer.from(
      `From: ${from}\r\nTo: inbox${i % 5}@lab\r\nSubject: ${subject} #${i}\r\nDate: ${date}\r\n\r\n${body}`,
    );
  }
  return Buffer.from(
    `From: ${from}\r\nTo: inbox${i % 5}@lab\r\nSubject: ${subject} #${i}\r\nDate: ${date}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${body}\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data-${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--b--\r\n`,
  );
}

async function time(fn, runs = 5) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function startupTime() {
  const data = await mkdtemp(path.join(os.tmpdir(), 'netkit-lab-bench-'));
  const t0 = performance.now();
  // the launcher file, run as a user's shell runs it (see bin/netkit.cjs)
  const child = spawn(
    path.join(ROOT, 'bin/netkit.cjs'),
    ['lab', '--data', data, '--port-offset', '30000', '--json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const result = await new Promise((resolve) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('"ready":true') || buf.includes('"service":"lab"')) resolve(performance.now() - t0);
    });
    child.on('exit', () => resolve(undefined));
  });
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  await rm(data, { recursive: true, force: true });
  return result;
}

export default async function main() {
  const data = await mkdtemp(path.join(os.tmpdir(), 'netkit-lab-bench-'));
  console.log(`storing ${COUNT} messages in 5 mailboxes…`);
  const boxes = Array.from({ length: 5 }, (_, i) => Maildir.open(data, `inbox${i}`));
  for (let i = 0; i < COUNT; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, COUNT - i) }, (_, k) => boxes[(i + k) % 5].deliver(message(i + k))),
    );
  }
  const mail = new MailIndex(data);
  const t0 = performance.now();
  await mail.refresh();
  console.log(`index built in ${(performance.now() - t0).toFixed(0)} ms`);
  const dash = await startDashboard(
    { dataDir: data, mail, wire: new WireLog(), accounts: new AccountStore(data), status: () => [] },
    { port: 0 },
  );
  const get = (q) => fetch(`${dash.url}api/v1/messages?${q}`).then((r) => r.json());
  const rows = [];
  rows.push(['list page 1 (50 of all)', await time(() => get('page=1&pageSize=50')), 100]);
  rows.push(['list page 100', await time(() => get('page=100&pageSize=50')), 100]);
  for (const q of [
    'from:alice',
    'subject:"build failed"',
    'has:attachment is:unread',
    'before:2026-06-01 after:2026-03-01',
    'number 9999',
    'lorem -from:bob',
  ]) {
    rows.push([`search ${q}`, await time(() => get(`q=${encodeURIComponent(q)}`)), 300]);
  }
  await dash.close();
  let js = 0;
  for (const f of await readdir(path.join(ROOT, 'web')))
    if (f.endsWith('.js')) js += (await stat(path.join(ROOT, 'web', f))).size;
  console.log('\nmeasurement                                   median ms   target   ok');
  for (const [name, ms, target] of rows) {
    console.log(
      `${name.padEnd(46)}${ms.toFixed(1).padStart(9)}   ≤ ${String(target).padEnd(5)}  ${ms <= target ? 'yes' : 'NO'}`,
    );
  }
  console.log(
    `dashboard JavaScript: ${(js / 1024).toFixed(1)} KB (target ≤ 300 KB) ${js <= 300 * 1024 ? 'yes' : 'NO'}`,
  );
  const start = await startupTime();
  if (start !== undefined)
    console.log(
      `lab start-up until every service listens: ${start.toFixed(0)} ms (target ≤ 1500) ${start <= 1500 ? 'yes' : 'NO'}`,
    );
  else console.log('lab start-up: netkit lab did not report ready');
  console.log(
    'peer: Mailpit is not packaged for Debian; its documented search syntax is what these queries use.',
  );
  await rm(data, { recursive: true, force: true });
}
