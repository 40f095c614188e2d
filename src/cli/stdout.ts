/**
 * Writing command output to stdout with backpressure: wait while it is full, and end quietly when
 * its reader goes away (`| head`), as curl does.
 */
import { once } from 'node:events';

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
