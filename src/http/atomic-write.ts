/**
 * Stream a body into a file atomically: readers see the old file or the complete new one, never a
 * half-written one. Data goes to a temp file in the target's directory, is fsynced, then renamed over
 * the target; on any error the temp file is removed and the target is left untouched.
 * (`writeFileAtomic` in core does the same for data already in memory.)
 *
 * A target that is there and is neither a regular file nor a directory — `/dev/null`,
 * `/dev/stdout`, a FIFO — is written to as it is, as curl does: renaming over it would replace
 * the device with a file.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { NetkitError } from '../core/errors.js';

/** Write everything `source` yields to `file`; returns the number of bytes written. */
export async function writeStreamAtomic(
  source: AsyncIterable<Uint8Array> | Readable,
  file: string,
  mode = 0o644,
): Promise<number> {
  const target = await stat(file).catch(() => undefined);
  const inPlace = target !== undefined && !target.isFile() && !target.isDirectory();
  const tmp = inPlace
    ? file
    : path.join(
        path.dirname(file),
        `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
      );
  let fh: FileHandle;
  try {
    fh = await open(tmp, inPlace ? 'w' : 'wx', mode);
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  let bytes = 0;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      bytes += chunk.length;
    }
    // a device or FIFO: no fsync (it means nothing there, and /dev/null refuses it) and no rename
    if (inPlace) {
      await fh.close();
      return bytes;
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
    return bytes;
  } catch (err) {
    await fh.close().catch(() => {});
    if (!inPlace) await unlink(tmp).catch(() => {});
    if (err instanceof NetkitError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.syscall) throw new NetkitError('NETKIT_IO', `cannot write ${file}: ${e.message}`, { cause: err });
    throw err;
  }
}
