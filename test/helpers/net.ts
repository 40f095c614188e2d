/** Test helpers: temp dirs, raw socket clients that wait for events (never sleeps), child processes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'bin/netkit.cjs');

export async function tempDir(
  prefix = 'netkit-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A line-reading socket client: `await c.line()` resolves with the next line received. */
export class LineClient {
  readonly socket: net.Socket;
  private buf = '';
  private lines: string[] = [];
  private waiters: Array<(l: string) => void> = [];
  closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i = this.buf.indexOf('\n');
      while (i !== -1) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
        i = this.buf.indexOf('\n');
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** `localAddress`: the source address, e.g. 127.0.0.2 to be a second client host on loopback */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** The same over implicit TLS; resolves once the handshake is done. */
  static connectTls(
    port: number,
    options: tls.ConnectionOptions = {},
    host = '127.0.0.1',
  ): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host, ...options }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  line(timeoutMs = 5000): Promise<string> {
    const next = this.lines.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  }

  /** Take the lines received and not yet read (all of them, once `closed` has resolved). */
  takeBuffered(): string[] {
    return this.lines.splice(0);
  }

  /** Read lines until one matches. */
  async until(re: RegExp, timeoutMs = 5000): Promise<string> {
    for (;;) {
      const l = await this.line(timeoutMs);
      if (re.test(l)) return l;
    }
  }

  send(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Run a process to completion, collecting output. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; stdoutBuf: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      const stdoutBuf = Buffer.concat(out);
      resolve({ code, stdout: stdoutBuf.toString('utf8'), stderr, stdoutBuf });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Run the built netkit CLI. */
export function netkit(args: string[], opts: Parameters<typeof run>[2] = {}) {
  return run(process.execPath, [CLI, ...args], opts);
}

/**
 * Start a long-running CLI server with `--json` and wait for its listening lines.
 * Returns the child and the parsed listening records.
 */
export async function startServe(
  args: string[],
  expect = 1,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{
  child: ChildProcess;
  listening: Array<{ service: string; host: string; port: number; tls: boolean; transport?: string }>;
  stop: () => Promise<void>;
  /** resolves once the server has printed `text` (stdout or stderr) */
  printed: (text: string) => Promise<void>;
}> {
  const child = spawn(process.execPath, [CLI, ...args, '--json'], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const listening: Array<{ service: string; host: string; port: number; tls: boolean; transport?: string }> =
    [];
  let stderr = '';
  let printed = '';
  const awaited = new Set<() => void>();
  const print = (d: Buffer) => {
    printed += d.toString();
    for (const check of awaited) check();
  };
  child.stderr!.on('data', (d) => {
    stderr += d.toString();
    print(d);
  });
  child.stdout!.on('data', print);
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const rec = JSON.parse(line);
          if (rec && typeof rec.port === 'number') listening.push(rec);
        } catch {
          // not a listening record
        }
        i = buf.indexOf('\n');
      }
      if (listening.length >= expect) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await done;
  };
  const printedText = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!printed.includes(text)) return;
        awaited.delete(check);
        resolve();
      };
      awaited.add(check);
      check();
    });
  return { child, listening, stop, printed: printedText };
}

/** Is a program on PATH? */
export async function have(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${cmd}`]).catch(() => ({ code: 1 }));
  return r.code === 0;
}

/** The length of `file`, or -1. */
export const lengthOf = (file: string): Promise<number> =>
  stat(file).then(
    (s) => s.size,
    () => -1,
  );

/**
 * Run the CLI with `args`, and kill it with `signal` once `part` holds at least `bytes` bytes (a
 * download's part file, or what a server received of an upload: watched with fs.watch, no timers).
 * Resolves with its exit (code or signal) and stderr.
 */
export async function killWhenOnDisk(
  args: string[],
  part: string,
  bytes: number,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const watcher = watch(path.dirname(part));
  let child: ChildProcess | undefined;
  const onDisk = new Promise<void>((resolve) => {
    const check = (): void => {
      void lengthOf(part).then((n) => {
        if (n >= bytes) resolve();
      });
    };
    watcher.on('change', check);
  });
  try {
    child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    await Promise.race([onDisk, exited.then(() => Promise.reject(new Error(`exited early: ${stderr}`)))]);
    child.kill(signal);
    return { ...(await exited), stderr };
  } finally {
    watcher.close();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * Write `request` in one piece and collect what comes back until the server ends the connection —
 * its FIN, not the full close: a server lingering for a body that never comes has answered by then.
 */
export function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let reply = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      reply += d;
    });
    s.on('error', () => {});
    const done = () => {
      s.destroy();
      resolve(reply);
    };
    s.on('end', done);
    s.on('close', done);
  });
}

/** The status codes of the HTTP/1.1 responses in `reply`, in order. */
export function responseStatuses(reply: string): string[] {
  return [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);
}
