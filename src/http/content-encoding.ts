/**
 * Compressed responses (curl --compressed): ask with `Accept-Encoding: gzip, deflate, br` and undo
 * the response's `Content-Encoding` — gzip (`x-gzip`), deflate (the zlib format, RFC 9110
 * §8.4.1.2; a raw deflate stream is accepted too, as curl accepts it) and br, listed in the order
 * the server applied them, so undone last first.
 *
 * Our own rather than undici's `decompress` interceptor, which deletes `Content-Encoding` and
 * `Content-Length` from the response: `-i` and `--trace` should show what the server sent. An empty
 * body is left empty (a 200 to HEAD, a 204 or a 304 carries the header but no data), a corrupt or
 * truncated one fails with a one-line error, and more than a few stacked encodings are refused.
 */
import { pipeline, Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { errorMessage, NetkitError } from '../core/errors.js';

export const ACCEPT_ENCODING = 'gzip, deflate, br';

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Stacked encodings beyond this are refused (each one costs a decoder); curl's limit too. */
const MAX_ENCODINGS = 5;

/** The codings of a `Content-Encoding` header, in the order applied (`identity` dropped). */
export function contentEncodings(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const list = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  for (const c of list) {
    if (!DECODERS[c])
      throw new NetkitError(
        'NETKIT_PROTOCOL',
        `the response has Content-Encoding "${c}", which netkit cannot decode`,
      );
  }
  if (list.length > MAX_ENCODINGS)
    throw new NetkitError('NETKIT_PROTOCOL', `the response stacks ${list.length} Content-Encodings`);
  return list;
}

/**
 * A zlib stream starts with a CMF/FLG pair whose 16-bit value is a multiple of 31 (RFC 1950); some
 * servers send "deflate" as a raw RFC 1951 stream without it, which curl and browsers accept too.
 */
function isZlibHeader(chunk: Uint8Array): boolean {
  return chunk.length < 2 || ((chunk[0]! & 0x0f) === 8 && ((chunk[0]! << 8) | chunk[1]!) % 31 === 0);
}

/** The body with its content codings undone; the body as it is when there are none. */
export async function* decodeBody(
  body: AsyncIterable<Uint8Array>,
  contentEncoding: string | string[] | undefined,
): AsyncGenerator<Buffer> {
  const input = body[Symbol.asyncIterator]();
  const first = await input.next();
  // no data at all (HEAD, 204, 304): nothing to decode, whatever the header says
  if (first.done) return;
  const codings = contentEncodings(contentEncoding);
  if (codings.length === 0) {
    yield Buffer.from(first.value);
    for (let n = await input.next(); !n.done; n = await input.next()) yield Buffer.from(n.value);
    return;
  }
  // a failure to read the body is the connection's, not the encoding's: it is passed on as it is
  let readError: unknown;
  const source = Readable.from(
    (async function* () {
      yield first.value;
      try {
        for (let n = await input.next(); !n.done; n = await input.next()) yield n.value;
      } catch (err) {
        readError = err;
        throw err;
      }
    })(),
    { objectMode: false },
  );
  const outermost = codings[codings.length - 1]!;
  const decoders = [...codings]
    .reverse()
    .map((c, i) =>
      i === 0 && outermost === 'deflate' && !isZlibHeader(first.value) ? createInflateRaw() : DECODERS[c]!(),
    );
  const output = pipeline([source, ...decoders], () => {}) as unknown as Transform;
  try {
    for await (const chunk of output) yield chunk as Buffer;
  } catch (err) {
    if (readError !== undefined) throw readError;
    throw new NetkitError(
      'NETKIT_PROTOCOL',
      `the response body is not valid ${codings.join(' + ')} data: ${errorMessage(err)}`,
      { cause: err },
    );
  } finally {
    await input.return?.();
  }
}
