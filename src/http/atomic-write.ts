/**
 * Stream a body into a file atomically: readers see the old file or the complete new one, never a
 * half-written one. Data goes to a temp file in the target's directory, is fsynced, then renamed over
 * the target; on any error the temp file is removed and the target is left untouched.
 * (`writeFileAtomic` in core does the same for data already in memory.) A resumed download is
 * appended in place instead ({@link appendStream}), with the same error reporting.
 *
 * A target that is there and is neither a regular file nor a directory — `/dev/null`,
 * `/dev/stdout`, a FIFO — is written to as it is, as curl does: renaming over it would replace
 * the device with a file.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { writesInPlace } from '../core/datadir.js';
import { NetkitError } from '../core/errors.js';

/** Write everything `source` yields to `file`; returns the number of bytes written. */
export async function writeStreamAtomic(
  source: AsyncIterable<Uint8Array> | Readable,
  file: string,
  mode = 0o644,
): Promise<number> {
  const inPlace = await writesInPlace(file);
  const tmp = inPlace
    ? file
    : path.join(
        path.dirname(file),
        `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
      );
  const fh = await openFor(file, tmp, inPlace ? 'w' : 'wx', mode);
  try {
    const bytes = await copyInto(fh, source);
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
    throw writeError(file, err);
  }
}

/** Append everything `source` yields to `file` (a resumed download: the file is not replaced). */
export async function appendStream(source: AsyncIterable<Uint8Array>, file: string): Promise<number> {
  const fh = await openFor(file, file, 'a');
  try {
    const bytes = await copyInto(fh, source);
    await fh.sync().catch(() => {}); // a device cannot be synced
    return bytes;
  } catch (err) {
    throw writeError(file, err);
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Open `at` (the target `file` or its temp file); a failure is NETKIT_IO naming `file`. */
async function openFor(file: string, at: string, flags: string, mode?: number): Promise<FileHandle> {
  try {
    return await open(at, flags, mode);
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function copyInto(fh: FileHandle, source: AsyncIterable<Uint8Array> | Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    await fh.write(chunk);
    bytes += chunk.length;
  }
  return bytes;
}

/** A system call's failure while writing `file` becomes NETKIT_IO; anything else (the source's) stays. */
function writeError(file: string, err: unknown): unknown {
  if (err instanceof NetkitError) return err;
  const e = err as NodeJS.ErrnoException;
  return e.syscall ? new NetkitError('NETKIT_IO', `cannot write ${file}: ${e.message}`, { cause: err }) : err;
}
