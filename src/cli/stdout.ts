/**
 * Writing command output to stdout with backpressure: wait while it is full, and end quietly when
 * its reader goes away (`| head`), as curl does. Output that cannot wait (datagrams, a server's
 * event log and trace: their senders cannot be slowed down) goes through {@link lossyStdout} and
 * {@link lossyStderr} instead, which drop past a bound and count what they dropped.
 */
import { once } from 'node:events';
import type { Option } from 'commander';
import { groupDigits } from '../sockets/bytes.js';
import { bytesOption } from './util.js';

/**
 * Bytes {@link lossyStdout} (and {@link lossyStderr}) let wait in the stream's buffer by default. A
 * reader that stops reading (a paused pager, a stuck pipe) cannot slow UDP senders or a server's
 * clients down as a TCP peer would, so past this datagrams and log lines are dropped, as the kernel
 * drops datagrams from a full socket buffer, instead of growing memory without end.
 */
export const MAX_STDOUT_BACKLOG = 1024 * 1024;

/**
 * `--max-queue <bytes>` of the datagram printers, as `chat serve --max-queue` bounds a client's
 * unread output: more room for a reader that pauses longer, or less memory on a small machine.
 */
export function maxQueueOption(what = 'datagrams'): Option {
  return bytesOption(
    '--max-queue <bytes>',
    `output left unread on stdout before ${what} are dropped (e.g. 64k, 16m)`,
    MAX_STDOUT_BACKLOG,
  );
}

/**
 * Set by a server command ({@link serverLog}): a reader of its output that goes away (`netkit smtp
 * serve --json | head -1`, taking just the listening line) ends the log, not the server and its
 * sessions. Other commands end quietly then, as their output is what they are for.
 */
let outlivesReaders = false;

/** Whether a reader of stdout going away (EPIPE) ends the command; false for a server command. */
export function stdoutReaderEndsCommand(): boolean {
  return !outlivesReaders;
}

/** How long a report of drops waits for a stderr that is not read before the command goes on. */
const REPORT_WAIT_MS = 2000;

/** What {@link lossyStdout} and {@link lossyStderr} hand out: print, or count as dropped. */
export interface LossyOutput {
  /** run `write` (which writes to the stream) while the stream's backlog is under the bound */
  print(write: () => void): void;
  /** write `text` and a newline to the stream, or count it as dropped */
  line(text: string): void;
  /** say on stderr how many were dropped since the last report (nothing when none were) */
  report(): Promise<void>;
}

/**
 * Printing what cannot wait: received datagrams (`udp listen`, `multicast listen|chat`), a server's
 * event log (one stdout line per chat message, stored mail, login), a server's trace on stderr (a
 * busy server writes thousands of lines a second): their senders cannot be slowed down for it, so
 * a reader that stops reading (a paused pager, `| sleep`) would otherwise have every line held in
 * memory. `print(write)` runs `write` while `stream`'s backlog stays under `maxBacklog` and counts
 * the item as dropped otherwise; how many were dropped is said on stderr (stdout stays data only)
 * once the stream drains, and by `report()`, which every exit path awaits.
 */
function lossyOutput(
  name: 'stdout' | 'stderr',
  maxBacklog: number,
  [one, many]: readonly [string, string],
): LossyOutput {
  const stream = process[name];
  let dropped = 0;
  // a reader that went away (EPIPE) destroys the stream: nothing is printed or counted after it,
  // and the error is not the command's (a server goes on; main.ts decides for stdout)
  stream.on('error', () => {});
  const report = (): Promise<void> => {
    if (dropped === 0 || process.stderr.destroyed) return Promise.resolve();
    const n = dropped;
    dropped = 0;
    const what = n === 1 ? one : many;
    // resolved once stderr has taken the line, or after REPORT_WAIT_MS: a stopping server whose
    // stderr nobody reads (`2>&1 | sleep`, killed alone) must still exit
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, REPORT_WAIT_MS);
      process.stderr.write(
        `netkit: dropped ${groupDigits(n)} ${what} while ${name} was not reading\n`,
        () => {
          clearTimeout(timer);
          resolve();
        },
      );
    });
  };
  stream.on('drain', () => void report());
  const print = (write: () => void): void => {
    if (stream.destroyed) return;
    if (stream.writableLength >= maxBacklog) dropped += 1;
    else write();
  };
  return { print, line: (text) => print(() => stream.write(`${text}\n`)), report };
}

/** {@link lossyOutput} on stdout: datagrams, a server's event log. */
export function lossyStdout(
  maxBacklog = MAX_STDOUT_BACKLOG,
  words: readonly [string, string] = ['datagram', 'datagrams'],
): LossyOutput {
  return lossyOutput('stdout', maxBacklog, words);
}

/** {@link lossyOutput} on stderr: a server's `--trace` and the notes it prints per connection. */
export function lossyStderr(
  maxBacklog = MAX_STDOUT_BACKLOG,
  words: readonly [string, string] = ['trace line', 'trace lines'],
): LossyOutput {
  return lossyOutput('stderr', maxBacklog, words);
}

/**
 * `--max-log-backlog <bytes>` of every server command: its event log (stdout) and its trace
 * (stderr) each wait at most this much for a reader before lines are dropped.
 */
export function maxLogBacklogOption(): Option {
  return bytesOption(
    '--max-log-backlog <bytes>',
    'log and trace output left unread on stdout or stderr before lines are dropped and counted (e.g. 64k, 16m)',
    MAX_STDOUT_BACKLOG,
  );
}

/**
 * A server command's per-event output, each stream bounded by `--max-log-backlog`: `log` the event
 * log on stdout, `err` the trace and per-connection notes on stderr. `report()` says what both
 * dropped; the command awaits it before it exits.
 */
export interface ServerLog {
  log: LossyOutput;
  err: LossyOutput;
  report(): Promise<void>;
}

export function serverLog(
  maxBacklog: number,
  errWords: readonly [string, string] = ['trace line', 'trace lines'],
  opts: {
    /** stdout carries the command's data (`tcp listen`), not an event log: its reader ends it */
    dataOnStdout?: boolean;
  } = {},
): ServerLog {
  if (!opts.dataOnStdout) outlivesReaders = true;
  const log = lossyStdout(maxBacklog, ['event log line', 'event log lines']);
  const err = lossyStderr(maxBacklog, errWords);
  return {
    log,
    err,
    report: async () => {
      await log.report();
      await err.report();
    },
  };
}

/** Write to stdout, waiting for 'drain' when it is full. */
export async function writeStdout(data: string | Uint8Array): Promise<void> {
  if (!process.stdout.write(data)) await once(process.stdout, 'drain');
}

/**
 * Copy pieces to stdout, waiting while it is full (which holds the source back through its own
 * backpressure). A reader that goes away (`| head`) ends the copy quietly, as curl does: resolves
 * false then, and the caller drops its source.
 */
export async function copyToStdout(pieces: AsyncIterable<Uint8Array | string>): Promise<boolean> {
  let closed = false;
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
  };
  process.stdout.on('error', onError);
  try {
    for await (const piece of pieces) {
      if (closed) break;
      if (piece.length > 0) await writeStdout(piece);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    closed = true;
  } finally {
    process.stdout.off('error', onError);
  }
  if (closed) process.stdout.on('error', () => {});
  return !closed;
}
