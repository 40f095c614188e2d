/**
 * `--max-filesize` (curl's), for the HTTP client, the downloader and the FTP client: refuse a file
 * whose declared size (Content-Length, SIZE) is over the limit before reading it, and stop one
 * that grows past it while it is read (chunked, or no SIZE), so a broken or hostile server cannot
 * fill the disk. Nothing past the limit is ever passed on. `tap` counts a body as it passes, for
 * what was received (curl's size_download, how far a body got before its connection closed).
 */
import { NetkitError } from './errors.js';

function tooLarge(max: number, detail: string): NetkitError {
  return new NetkitError(
    'NETKIT_TOO_LARGE',
    `the file is larger than --max-filesize ${max} bytes (${detail})`,
  );
}

/** The error for a body of unknown length that went past `max`. */
export function bodyTooLarge(max: number): NetkitError {
  return tooLarge(max, 'it kept coming past that');
}

/** A NETKIT_TOO_LARGE error when `declared` (a Content-Length, a SIZE) is over `max`. */
export function checkDeclaredSize(declared: number | undefined, max: number): void {
  if (declared !== undefined && Number.isFinite(declared) && declared > max)
    throw tooLarge(max, `the server announced ${declared}`);
}

/** `source`, failing with NETKIT_TOO_LARGE instead of yielding a byte past `max`. */
export async function* capBytes(source: AsyncIterable<Uint8Array>, max: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > max) throw bodyTooLarge(max);
    yield chunk;
  }
}

/** The chunks of `source`, each counted by `count` as it passes. */
export async function* tap(
  source: AsyncIterable<Uint8Array>,
  count: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    count(chunk.length);
    yield chunk;
  }
}
