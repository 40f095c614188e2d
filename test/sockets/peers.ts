/** Helpers for the sockets tests: peers as child processes, waited on by their output, never by sleeps. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { expect } from 'vitest';
import { CLI } from '../helpers/net.js';

export interface Peer {
  child: ChildProcess;
  /** the match of the line that said the peer is ready */
  ready: RegExpExecArray;
  stdout(): Buffer;
  stderr(): string;
  /** resolves with the exit code */
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Spawn a process and wait until `stream` prints a line matching `ready` (null: do not wait, for
 * clients). stdin stays a pipe unless `stdin: 'ignore'` (then it reads /dev/null).
 */
export function spawnPeer(
  cmd: string,
  args: string[],
  ready: RegExp | null,
  opts: { stream?: 'stdout' | 'stderr'; stdin?: 'pipe' | 'ignore'; timeoutMs?: number } = {},
): Promise<Peer> {
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const peer = (m: RegExpExecArray): Peer => ({
    child,
    ready: m,
    stdout: () => Buffer.concat(out),
    stderr: () => err,
    exited,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  });
  if (ready === null) return Promise.resolve(peer(/^/.exec('')!));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} not ready within ${opts.timeoutMs ?? 10_000} ms: ${err}`));
    }, opts.timeoutMs ?? 10_000);
    const check = () => {
      const text = (opts.stream ?? 'stdout') === 'stdout' ? Buffer.concat(out).toString('latin1') : err;
      const m = ready.exec(text);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        resolve(peer(m));
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready: ${err}`));
    });
  });
}

/** Spawn the built CLI as a peer. */
export function spawnNetkit(
  args: string[],
  ready: RegExp | null,
  opts: Parameters<typeof spawnPeer>[3] = {},
) {
  return spawnPeer(process.execPath, [CLI, ...args], ready, opts);
}

/** A port that was free a moment ago (for peers such as ncat that cannot report port 0). */
export { freePort } from '../../bench/_net.mjs';

/** Connect and collect everything until the peer closes. */
export function collect(port: number, send?: Buffer | string, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host }, () => {
      if (send !== undefined) s.end(send);
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('error', reject);
    s.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Resolve when `cond()` is true, checking on every turn of the event loop (no fixed sleeps). */
export async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * For a datagram printer (`udp listen`, `multicast listen`) that was sent `total` datagrams of
 * `size` bytes, all handled, while the test held its stdout paused: its memory stayed bounded and
 * nothing was reported yet; once stdout is read again, the drops are counted on stderr and every
 * datagram not dropped is printed in full (JSON lines after the first line).
 */
export async function expectBoundedStdoutDrops(listen: Peer, total: number, size: number): Promise<void> {
  const status = readFileSync(`/proc/${listen.child.pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
  expect(rssKiB).toBeLessThan(150 * 1024); // over 200 MiB when every datagram was buffered
  expect(listen.stderr()).not.toMatch(/dropped/); // not while stdout is still stuck

  listen.child.stdout!.resume();
  const report = /^netkit: dropped ([\d,]+) datagrams while stdout was not reading$/m;
  await until(() => report.test(listen.stderr()), 10_000, 'the drop report on stderr');
  const dropped = Number(report.exec(listen.stderr())![1]!.replaceAll(',', ''));
  expect(dropped).toBeGreaterThan(total / 2);
  // everything not dropped is printed, in full, and stdout carries datagrams only
  const lines = () => listen.stdout().toString().split('\n').slice(1, -1);
  await until(() => lines().length === total - dropped, 10_000, 'the printed datagrams');
  for (const l of lines()) expect(JSON.parse(l).size).toBe(size);
}
