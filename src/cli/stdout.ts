/**
 * Writing command output to stdout with backpressure: wait while it is full, and end quietly when
 * its reader goes away (`| head`), as curl does. Output that cannot wait (datagrams, a server's
 * event log: their senders cannot be slowed down) goes through {@link lossyStdout} instead, which
 * drops past a bound.
 */
import { once } from 'node:events';
import type { Option } from 'commander';
import { groupDigits } from '../sockets/bytes.js';
import { bytesOption } from './util.js';

/**
 * Bytes {@link lossyStdout} lets wait in stdout's buffer. A reader that stops reading (a paused
 * pager, a stuck pipe) cannot slow UDP senders down as a TCP peer would, so past this the datagrams
 * are dropped, as the kernel drops them from a full socket buffer, instead of growing memory
 * without end.
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
 * Printing what cannot wait: received datagrams (`udp listen`, `multicast listen|chat`), a server's
 * event log (`chat serve`: one line per chat message, so a paused pager would otherwise hold every
 * message said). `print(write)` runs `write` while stdout's backlog stays under `maxBacklog`
 * (default {@link MAX_STDOUT_BACKLOG}) and counts the item as dropped otherwise; how many were
 * dropped is said on stderr (stdout stays data only) once stdout drains, and by `report()` at exit.
 */
export function lossyStdout(
  maxBacklog = MAX_STDOUT_BACKLOG,
  [one, many]: readonly [string, string] = ['datagram', 'datagrams'],
): {
  print(write: () => void): void;
  report(): Promise<void>;
} {
  let dropped = 0;
  const report = (): Promise<void> => {
    if (dropped === 0) return Promise.resolve();
    const n = dropped;
    dropped = 0;
    const what = n === 1 ? one : many;
    return new Promise((resolve) => {
      process.stderr.write(`netkit: dropped ${groupDigits(n)} ${what} while stdout was not reading\n`, () =>
        resolve(),
      );
    });
  };
  process.stdout.on('drain', () => void report());
  return {
    print(write: () => void): void {
      if (process.stdout.writableLength >= maxBacklog) dropped += 1;
      else write();
    },
    report,
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
