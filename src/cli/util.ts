/**
 * Shared CLI plumbing: error reporting with exit codes (0 ok, 1 failure, 2 usage; a file-system
 * failure in words, naming the path as typed and the option it came from), option parsers, the
 * `--json` / human output of listening sockets, `--trace` printing, colour (NO_COLOR), password
 * prompts, graceful shutdown on SIGINT/SIGTERM, and the progress display for long transfers.
 */
import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { InvalidArgumentError, Option } from 'commander';
import { formatHostPort, isIPv6Address } from '../core/address.js';
import { within } from '../core/datadir.js';
import { formatBytes, parseByteSize } from '../core/format.js';

export { formatBytes };

import { errorMessage, NetkitError, usageError } from '../core/errors.js';
import { fileErrorLine, fileErrorReason, isFileSystemError, rewordQuotedCause } from '../core/fs-errors.js';
import { jsonTerminalSafe } from '../core/terminal-safe.js';
import { formatTrace, type TraceEvent } from '../core/trace.js';
import { parsePortRange } from '../ftp/data-address.js';
import { parseRate } from '../http/rate-limit.js';

/**
 * Exit 2 for what the user typed (a usage error, a malformed address, URL or value — also when
 * only the command itself could tell), 130 for Ctrl-C (143 for SIGTERM during a transfer), 1 for
 * everything that went wrong while running.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof InterruptedError) return err.exitCode;
  if (err instanceof InvalidArgumentError) return 2;
  return err instanceof NetkitError && (err.code === 'NETKIT_USAGE' || err.code === 'NETKIT_INVALID_INPUT')
    ? 2
    : 1;
}

/** An option the user gave a value to, as typed (`--data`, `./lab`): a path a failure may lie in. */
export interface GivenOption {
  flag: string;
  value: string;
}

/**
 * The string values the user gave `cmd`'s options (on the command line or through the
 * environment, not the defaults), for {@link cliErrorMessage}. Commander hands the command to an
 * action as its last argument.
 */
export function givenOptions(cmd: unknown): GivenOption[] {
  const c = cmd as
    | {
        options?: Array<{ long?: string; short?: string; attributeName(): string }>;
        getOptionValue?(name: string): unknown;
        getOptionValueSource?(name: string): string | undefined;
      }
    | undefined;
  if (!Array.isArray(c?.options) || !c.getOptionValue || !c.getOptionValueSource) return [];
  const out: GivenOption[] = [];
  for (const o of c.options) {
    const name = o.attributeName();
    const source = c.getOptionValueSource(name);
    if (source !== 'cli' && source !== 'env') continue;
    const v = c.getOptionValue(name);
    for (const value of Array.isArray(v) ? v : [v])
      if (typeof value === 'string' && value !== '') out.push({ flag: (o.long ?? o.short)!, value });
  }
  return out;
}

/**
 * The one line for `err`. A file-system error is said in words (`cannot create directory
 * photo.jpg/x/chat: photo.jpg is not a directory`, never `ENOTDIR: not a directory, mkdir …`), and
 * when its path is or lies in the value of an option in `given`, the option is named and the path
 * written as the user typed it: `cannot open --quotes q.txt: no such file or directory`, `cannot
 * create directory lab/chat (--data lab): …`. A message that quotes Node's words for its cause
 * (a wrapper's `cannot read x: ${err.message}`) gets the words instead.
 */
export function cliErrorMessage(err: unknown, given: readonly GivenOption[] = []): string {
  if (isFileSystemError(err)) {
    const at = path.resolve(err.path);
    // the most specific option the path lies in; `/` or a folder above this one would claim any path
    const cwd = process.cwd();
    const option = given
      .map((o) => ({ ...o, root: path.resolve(o.value) }))
      .filter((o) => within(o.root, at) && (o.root === cwd || !within(o.root, cwd)))
      .sort((a, b) => b.root.length - a.root.length)[0];
    if (option === undefined) return fileErrorLine(err)!;
    // a path in the option's value or above it, written from the value as typed
    const shown = (p: string): string => {
      const abs = path.resolve(p);
      return within(option.root, abs) || within(abs, option.root)
        ? path.join(option.value, path.relative(option.root, abs))
        : p;
    };
    const named = (p: string): string =>
      path.resolve(p) === option.root
        ? `${option.flag} ${option.value}`
        : `${shown(p)} (${option.flag} ${option.value})`;
    return fileErrorLine(err, shown, named)!;
  }
  return rewordQuotedCause(err) ?? errorMessage(err);
}

export function exitWithError(
  err: unknown,
  debug = false,
  note?: string,
  given: readonly GivenOption[] = [],
): never {
  const msg = cliErrorMessage(err, given);
  // Ctrl-C: the prompt already ended its line, and a shell says nothing either
  if (!(err instanceof InterruptedError)) process.stderr.write(`netkit: ${msg}\n`);
  // a command's own word on what the failure left behind (a kept download, say)
  if (note !== undefined) process.stderr.write(`${note}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(exitCodeFor(err));
}

/** Wrap a command action so failures become one line on stderr and the right exit code. */
// biome-ignore lint/suspicious/noExplicitAny: commander passes heterogeneous arguments
export function action<A extends any[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      exitWithError(err, process.argv.includes('--debug'), undefined, givenOptions(args.at(-1)));
    }
  };
}

export const useColor = (stream: NodeJS.WriteStream = process.stdout): boolean =>
  !process.env.NO_COLOR && stream.isTTY === true;

export function paint(code: number, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return useColor(stream) ? `\u001b[${code}m${text}\u001b[0m` : text;
}

export const bold = (t: string) => paint(1, t);
export const dim = (t: string) => paint(2, t);

// ---- option parsers (throw InvalidArgumentError → commander prints it and exits 2) ----

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`"${value}" is not a port (0-65535)`);
  return n;
}

/** A port to send or connect to: 0 ("any free port") only makes sense for listening. */
export function parseDestPort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535)
    throw new InvalidArgumentError(`"${value}" is not a destination port (1-65535)`);
  return n;
}

export function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not an integer`);
  return Number(value);
}

export function parseNonNegative(value: string): number {
  const n = parseInteger(value);
  if (n < 0) throw new InvalidArgumentError(`"${value}" must be 0 or more`);
  return n;
}

export function parsePositive(value: string): number {
  const n = parseInteger(value);
  if (n <= 0) throw new InvalidArgumentError(`"${value}" must be greater than 0`);
  return n;
}

/** Parse a byte size: 1024, 10k, 5M, 1G (binary multiples). */
export function parseBytes(value: string): number {
  const n = parseByteSize(value);
  if (n === undefined) throw new InvalidArgumentError(`"${value}" is not a size (e.g. 512, 10k, 5M, 1G)`);
  return n;
}

/** A byte size of at least one byte (a 0-byte line, message or segment would refuse everything). */
export function parsePositiveBytes(value: string): number {
  const n = parseBytes(value);
  if (n <= 0) throw new InvalidArgumentError(`"${value}" must be greater than 0`);
  return n;
}

/** Commander parser for `--limit-rate` (curl's form: 100K, 1M, 0 = no limit). */
export function parseRateOption(value: string): number {
  try {
    return parseRate(value);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

/** Commander parser for a port range `FROM-TO` (1024-65535): FTP passive and active ports. */
export function parsePortRangeOption(value: string): [number, number] {
  const r = parsePortRange(value);
  if (!r.ok) throw new InvalidArgumentError(r.error);
  return r.value;
}

/** Parse a duration: 500ms, 30s, 5m, or a bare number of seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a duration (e.g. 500ms, 30s, 5m)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * mult);
}

/**
 * A file named by an option (`--cert FILE`) must be readable before a server starts: the error names
 * the option (`cannot read --cert x.pem: no such file or directory`), not just the errno. Exit 1.
 */
export async function checkReadable(flag: string, file: string | undefined): Promise<void> {
  if (file === undefined) return;
  try {
    await readFile(file);
  } catch (err) {
    throw new NetkitError(
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NETKIT_NOT_FOUND' : 'NETKIT_IO',
      `cannot read ${flag} ${file}: ${fileErrorReason(err) ?? errorMessage(err)}`,
      { cause: err },
    );
  }
}

/** A duration as people write it back into a flag: 500ms, 30s, 5m, 1h (the largest whole unit). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  return ms === 0 ? '0s' : `${ms}ms`;
}

/**
 * A `<duration>` option: parsed by {@link parseDuration} (a bare number is seconds), its default in
 * milliseconds shown in the same notation, so a default copied from `--help` means what it says.
 */
export function durationOption(flags: string, description: string, defaultMs?: number): Option {
  const option = new Option(flags, description).argParser(parseDuration);
  return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
}

/** An option taking a size (`64k`, `16m`), its default shown the way a user would type it. */
export function bytesOption(flags: string, description: string, defaultBytes: number): Option {
  const unit = defaultBytes % 1024 ** 2 === 0 ? 'm' : defaultBytes % 1024 === 0 ? 'k' : '';
  const shown =
    unit === '' ? String(defaultBytes) : `${defaultBytes / (unit === 'm' ? 1024 ** 2 : 1024)}${unit}`;
  return new Option(flags, description).argParser(parsePositiveBytes).default(defaultBytes, shown);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `host:port`, `[v6]:port`, or `host` (with the default port). */
export function parseHostPort(value: string, defaultPort?: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  let host: string;
  let port: string | undefined;
  if (v6) {
    host = v6[1]!;
    port = v6[2];
  } else {
    const i = value.lastIndexOf(':');
    if (i > 0 && value.indexOf(':') === i) {
      host = value.slice(0, i);
      port = value.slice(i + 1);
    } else host = value;
    // `::1:2525` is read as one address; when it is none, the user meant a port after an IPv6 one
    const glued = /^(.+):(\d{1,5})$/.exec(value);
    if (glued && !isIPv6Address(value) && isIPv6Address(glued[1]!))
      throw new NetkitError(
        'NETKIT_USAGE',
        `"${value}": write an IPv6 address with a port in brackets: [${glued[1]}]:${glued[2]}`,
      );
  }
  if (port === undefined) {
    if (defaultPort === undefined)
      throw new NetkitError('NETKIT_USAGE', `"${value}" needs a port (HOST:PORT)`);
    return { host, port: defaultPort };
  }
  return { host, port: parsePort(port) };
}

// ---- output ----

export function printJson(value: unknown): void {
  process.stdout.write(`${jsonTerminalSafe(JSON.stringify(value))}\n`);
}

/** The CLI convention for a listening socket: one JSON line with --json, else a human line. */
export function announceListening(
  service: string,
  address: { host: string; port: number },
  opts: { json?: boolean; tls?: boolean; transport?: 'tcp' | 'udp' },
): void {
  if (opts.json) {
    const rec: Record<string, unknown> = {
      service,
      host: address.host,
      port: address.port,
      tls: opts.tls ?? false,
    };
    if (opts.transport) rec.transport = opts.transport;
    printJson(rec);
  } else {
    const extra = [opts.transport === 'udp' ? 'udp' : '', opts.tls ? 'tls' : ''].filter(Boolean).join(', ');
    process.stdout.write(
      `${service} listening on ${formatHostPort(address.host, address.port)}${extra ? ` (${extra})` : ''}\n`,
    );
  }
}

/**
 * Print trace events from an emitter to stderr in `C:` / `S:` form; a server passes its bounded
 * stderr (`serverLog(...).err`), which drops lines a stuck reader would otherwise pile up.
 */
export function printTrace(
  emitter: EventEmitter,
  side: 'server' | 'client' = 'server',
  out: { line(text: string): void } = { line: (text) => process.stderr.write(`${text}\n`) },
): void {
  emitter.on('trace', (ev: TraceEvent) => out.line(formatTrace(ev, side)));
}

/**
 * Run `stop` on the first SIGINT/SIGTERM, exit 0 when it finishes; a second signal exits at once,
 * 130 (SIGTERM: 143) as a shell reports a process ended by that signal. A server calls this before
 * it announces that it listens: a supervisor may send SIGTERM as soon as it reads that line, and
 * without a handler yet the signal kills the process outright.
 */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(signalExitCode(signal));
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err) => exitWithError(err),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** 128 + the signal's number, as a shell reports a process ended by it: 130 for SIGINT, 143 for SIGTERM. */
function signalExitCode(signal: NodeJS.Signals): 130 | 143 {
  return signal === 'SIGTERM' ? 143 : 130;
}

/**
 * Ctrl-C at a prompt (in raw mode the terminal sends it as a byte, not as SIGINT), or a signal
 * that stopped a transfer ({@link interruptOnSignals}): the CLI exits 130 (SIGTERM: 143), as a
 * shell reports a process ended by that signal, and prints nothing more.
 */
export class InterruptedError extends Error {
  /** 128 + the signal's number */
  readonly exitCode: 130 | 143;
  constructor(signal: 'SIGINT' | 'SIGTERM' = 'SIGINT') {
    super('interrupted');
    this.name = 'InterruptedError';
    this.exitCode = signalExitCode(signal);
  }
}

/** A transfer's hold on Ctrl-C and SIGTERM ({@link interruptOnSignals}). */
export interface Interrupt {
  /** aborted (with the {@link InterruptedError}) by the first signal */
  readonly signal: AbortSignal;
  /** what to end the command with once the transfer has stopped; undefined while no signal came */
  readonly error: InterruptedError | undefined;
  /** stop listening for the signals */
  dispose(): void;
}

/**
 * Ctrl-C or SIGTERM during a transfer. Dying on the signal would leave a temp file behind; instead
 * the first signal aborts `signal`, the command stops the transfer and leaves its files as it
 * documents (a temp file removed, a part file kept), then ends with `error` (exit 130 or 143). A
 * second signal exits at once.
 */
export function interruptOnSignals(): Interrupt {
  const controller = new AbortController();
  let error: InterruptedError | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (error) process.exit(error.exitCode);
    error = new InterruptedError(signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
    controller.abort(error);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get error() {
      return error;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** What {@link readPassword} reads from and writes to (process.stdin/stderr/env by default). */
export interface PasswordIo {
  stdin: EventEmitter & {
    isTTY?: boolean;
    setRawMode?(mode: boolean): unknown;
    resume(): unknown;
    pause(): unknown;
  };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

/**
 * A password from the option, NETKIT_PASSWORD, or a no-echo prompt on a TTY (like getpass).
 * Enter ends it; Backspace/DEL removes a character, Ctrl-U the line; Ctrl-D on an empty line (or
 * the terminal going away) is "no password given" (exit 2); Ctrl-C is {@link InterruptedError}
 * (exit 130). Either way echo is back on, stdin paused and no listener left behind. Without a TTY
 * it refuses (a usage error) rather than read the password from a pipe: stdin may be the data.
 */
export async function readPassword(
  given: string | undefined,
  prompt = 'Password: ',
  io: PasswordIo = { stdin: process.stdin, stderr: process.stderr, env: process.env },
): Promise<string> {
  if (given !== undefined) return given;
  if (io.env.NETKIT_PASSWORD !== undefined) return io.env.NETKIT_PASSWORD;
  const { stdin, stderr } = io;
  if (!stdin.isTTY || !stdin.setRawMode)
    throw usageError(
      'no password given: use --password or NETKIT_PASSWORD (stdin is not a terminal to ask on)',
    );
  const decoder = new StringDecoder('utf8');
  let pw = '';
  return new Promise<string>((resolve, reject) => {
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err);
      else resolve(pw);
    };
    const onEnd = () => finish(usageError('no password given'));
    const onError = (err: Error) => finish(err);
    const onData = (chunk: Buffer | string) => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new InterruptedError());
        if (ch === '\u0004') {
          // as at a shell prompt: end of input on an empty line, nothing on a non-empty one
          if (pw === '') return finish(usageError('no password given'));
        } else if (ch === '\u007f' || ch === '\b') pw = [...pw].slice(0, -1).join('');
        else if (ch === '\u0015') pw = '';
        else pw += ch;
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    // echo off before the prompt shows: keys typed as soon as it appears must not be echoed
    stdin.setRawMode?.(true);
    stderr.write(prompt);
    stdin.resume();
  });
}

// ---- progress ----

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

/** One piece of a multi-connection transfer, for the segment map under the bar. */
export interface ProgressSegment {
  start: number;
  end: number;
  /** bytes of this segment already received */
  done: number;
  /** connection working on it; 0 = waiting */
  conn: number;
}

/**
 * A one-line map of a multi-segment transfer, `width` cells wide: `#` received, a connection's
 * number (1-9, then a-z) where that connection is working, `.` not started. Bytes outside every
 * segment count as received.
 */
export function segmentMap(total: number, segments: ProgressSegment[], width = 40): string {
  if (total <= 0) return '';
  const cells: string[] = [];
  const digit = (c: number): string =>
    c <= 0 ? '.' : c < 10 ? String(c) : String.fromCharCode(87 + (c % 36));
  for (let i = 0; i < width; i++) {
    const from = Math.floor((i * total) / width);
    const to = Math.max(from + 1, Math.floor(((i + 1) * total) / width));
    let ch = '#';
    for (const s of segments) {
      const pos = s.start + s.done;
      if (pos < to && s.end > from && pos < s.end) {
        ch = s.conn > 0 ? digit(s.conn) : '.';
        if (s.conn > 0) break;
      }
    }
    cells.push(ch);
  }
  return cells.join('');
}

export interface Progress {
  /** `segments` (optional): per-connection pieces, drawn as a map under the bar on a TTY */
  update(done: number, detail?: string, segments?: ProgressSegment[]): void;
  setTotal(total: number | undefined): void;
  finish(message?: string): void;
  /** the transfer failed: end a drawn bar's line where it stopped, add no "done" line */
  abandon(): void;
}

/**
 * Progress for long transfers: a redrawn bar (bytes, rate, ETA) on a TTY, a plain line every few
 * seconds otherwise (from the first interval on, then a closing line), nothing with `quiet`.
 * Writes to stderr so stdout stays the data.
 */
export function createProgress(
  label: string,
  total: number | undefined,
  opts: {
    quiet?: boolean;
    stream?: NodeJS.WriteStream;
    intervalMs?: number;
    /** bytes already there when the transfer starts (a resume): not counted in the rate */
    initial?: number;
  } = {},
): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const interval = opts.intervalMs ?? (tty ? 100 : 2000);
  const start = Date.now();
  // a log (not a TTY) hears only of long transfers: the first line after one interval, and a
  // closing line only after it, so a script's quick fetch leaves stderr empty
  let last = tty ? 0 : start;
  let logged = false;
  let done = 0;
  let detail = '';
  let segments: ProgressSegment[] | undefined;
  let drawn = 0; // lines of the last TTY frame
  const initial = opts.initial ?? 0;
  const render = (final = false): void => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = elapsed > 0 ? Math.max(0, done - initial) / elapsed : 0;
    const pct = total ? Math.min(100, (done / total) * 100) : undefined;
    const eta = total && rate > 0 ? (total - done) / rate : Number.NaN;
    const sizes = total ? `${formatBytes(done)}/${formatBytes(total)}` : formatBytes(done);
    const stats = `${sizes} ${formatBytes(rate)}/s ETA ${final ? '0:00' : formatEta(eta)}${detail ? ` ${detail}` : ''}`;
    if (tty) {
      const width = 24;
      const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
      const bar =
        pct === undefined
          ? ''
          : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(0).padStart(3)}% `;
      const map = segments && total && !final ? `\n\u001b[2K  [${segmentMap(total, segments)}]` : '';
      const up = drawn > 1 ? `\u001b[${drawn - 1}A` : '';
      stream.write(`${up}\r\u001b[J${label} ${bar}${stats}${map}`);
      drawn = map ? 2 : 1;
    } else if (!final || logged) {
      stream.write(`${label} ${pct === undefined ? '' : `${pct.toFixed(0)}% `}${stats}\n`);
      logged = true;
    }
  };
  return {
    update(n, d, segs) {
      done = n;
      if (d !== undefined) detail = d;
      if (segs !== undefined) segments = segs;
      if (opts.quiet) return;
      const now = Date.now();
      if (now - last >= interval) {
        last = now;
        render();
      }
    },
    setTotal(t) {
      total = t;
    },
    finish(message) {
      if (opts.quiet) return;
      render(true);
      if (tty) stream.write('\n');
      if (message) stream.write(`${message}\n`);
    },
    abandon() {
      if (!opts.quiet && tty && drawn > 0) stream.write('\n');
    },
  };
}

/** The value commander stored for `flag` (`--smtp-max-clients` → `opts.smtpMaxClients`). */
export function flagValue(opts: Record<string, unknown>, flag: string): unknown {
  return opts[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
}
