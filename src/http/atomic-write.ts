/**
 * Stream a body into a file atomically: readers see the old file or the complete new one, never a
 * half-written one. Data goes to a temp file in the target's directory, is fsynced, then renamed over
 * the target; on any error the temp file is removed and the target is left untouched.
 * (`writeFileAtomic` in core does the same for data already in memory.)
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { NetkitError } from '../core/errors.js';

/** Write everything `source` yields to `file`; returns the number of bytes written. */
export async function writeStreamAtomic(
  source: AsyncIterable<Uint8Array> | Readable,
  file: string,
  mode = 0o644,
): Promise<number> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(tmp, 'wx', mode);
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  let bytes = 0;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      bytes += chunk.length;
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
    return bytes;
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    if (err instanceof NetkitError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.syscall) throw new NetkitError('NETKIT_IO', `cannot write ${file}: ${e.message}`, { cause: err });
    throw err;
  }
}
