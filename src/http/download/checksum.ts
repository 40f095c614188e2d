/**
 * `--checksum ALGO=HEX`: parse the expectation and hash the finished file. The check runs on the
 * bytes as they sit in `FILE.part`, after every segment is written, so it also catches a bug in
 * our own positional writes — not just a corrupted transfer.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { NetkitError } from '../../core/errors.js';

export type ChecksumAlgorithm = 'sha256' | 'sha1' | 'md5' | 'sha512';

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** lower-case hex */
  hex: string;
}

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/** `sha256=ABC…` (also `sha-256=`, `sha1`, `md5`, `sha512`) → {algorithm, hex}. */
export function parseChecksum(text: string): Checksum {
  const m = /^([a-z0-9-]+)[=:]([0-9a-f]+)$/i.exec(text.trim());
  const algorithm = m?.[1]?.toLowerCase().replace('-', '') as ChecksumAlgorithm | undefined;
  if (!m || !algorithm || !(algorithm in HEX_LENGTH))
    throw new NetkitError(
      'NETKIT_USAGE',
      `"${text}" is not a checksum (use sha256=HEX, sha1=HEX or md5=HEX)`,
    );
  const hex = m[2]!.toLowerCase();
  if (hex.length !== HEX_LENGTH[algorithm])
    throw new NetkitError(
      'NETKIT_USAGE',
      `a ${algorithm} checksum has ${HEX_LENGTH[algorithm]} hex digits, "${text}" has ${hex.length}`,
    );
  return { algorithm, hex };
}

export async function hashFile(file: string, algorithm: ChecksumAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}
