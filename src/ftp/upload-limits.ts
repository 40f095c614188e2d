/**
 * What an upload may take from the server's disk: a largest file size (`maxUploadBytes`, 552
 * "Exceeded storage allocation" as RFC 959 names it) and a reserve of free space on the file
 * system (`minFreeBytes`, 452 "Insufficient storage space"), as pure-ftpd's `--maxdiskusage` and
 * Postfix's `queue_minfree` keep one.
 *
 * Both are checked before the 150 (a STOR that cannot fit never starts) and while the bytes
 * arrive (a client may send more than it announced, or other writers may fill the disk meanwhile).
 * An upload stopped by the size limit is undone, because it could never complete: removed when the
 * command created it (or when a STOR from byte 0 replaced a file, which it emptied first), cut back
 * to the REST offset, or to its size before APPE. One stopped by the reserve keeps what was
 * written, as any interrupted upload does, so it resumes once space is freed.
 */
import { truncate, unlink } from 'node:fs/promises';
import { belowReserve, type FreeSpace } from '../core/disk-space.js';
import { formatBytes } from '../core/format.js';

/** The free-space reserve is checked again after every this many bytes of one upload. */
export const SPACE_CHECK_BYTES = 16 * 1024 * 1024;

export interface UploadLimits {
  /** largest file an upload may leave (bytes; 0 = no limit) */
  maxUploadBytes: number;
  /** free space kept on the file system (bytes; 0 = no check) */
  minFreeBytes: number;
  freeSpace: FreeSpace;
}

/** A refusal before the transfer starts: the reply code and text. */
export interface UploadRefusal {
  code: 452 | 552;
  text: string;
}

function tooLarge(limits: UploadLimits): string {
  return `Exceeded storage allocation: files are limited to ${formatBytes(limits.maxUploadBytes)} (${limits.maxUploadBytes} bytes) here`;
}

const NO_SPACE = 'Insufficient storage space on the server';

/** An error carrying a file-system code, as a failed write would. */
function codedError(code: 'EFBIG' | 'ENOSPC', message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Before the 150: refuse an upload into directory `dir` that starts at byte `base` (the REST
 * offset, or the current size for APPE) and, when the client announced it (ALLO), brings
 * `announced` bytes.
 */
export function checkUpload(
  limits: UploadLimits,
  dir: string,
  base: number,
  announced = 0,
): UploadRefusal | undefined {
  const { maxUploadBytes } = limits;
  if (maxUploadBytes > 0 && (base >= maxUploadBytes || base + announced > maxUploadBytes))
    return { code: 552, text: tooLarge(limits) };
  if (belowReserve(limits.freeSpace, dir, limits.minFreeBytes, announced))
    return { code: 452, text: NO_SPACE };
  return undefined;
}

/**
 * While the bytes arrive: the transfer's `guard` for an upload into directory `dir` from byte `base` —
 * an EFBIG error past the size limit, an ENOSPC error once the file system falls below the reserve
 * (checked every {@link SPACE_CHECK_BYTES}).
 */
export function uploadGuard(
  limits: UploadLimits,
  dir: string,
  base: number,
): ((bytes: number) => Error | undefined) | undefined {
  const allowed = limits.maxUploadBytes > 0 ? limits.maxUploadBytes - base : Number.POSITIVE_INFINITY;
  if (allowed === Number.POSITIVE_INFINITY && limits.minFreeBytes <= 0) return undefined;
  let nextCheck = limits.minFreeBytes > 0 ? SPACE_CHECK_BYTES : Number.POSITIVE_INFINITY;
  return (bytes) => {
    if (bytes > allowed) return codedError('EFBIG', tooLarge(limits));
    if (bytes >= nextCheck) {
      nextCheck = bytes + SPACE_CHECK_BYTES;
      if (belowReserve(limits.freeSpace, dir, limits.minFreeBytes))
        return codedError('ENOSPC', 'free space on the server fell below its reserve');
    }
    return undefined;
  };
}

/** The upload went past the size limit (the transfer's local error). */
export function isOversize(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'EFBIG';
}

/**
 * Undo an oversize upload: remove the file (`remove`: the command created it, or a STOR from byte 0
 * replaced it and so already emptied the old one), else cut it back to its `base` bytes.
 */
export async function undoUpload(real: string, base: number, remove: boolean): Promise<void> {
  if (remove) await unlink(real).catch(() => {});
  else await truncate(real, base).catch(() => {});
}
