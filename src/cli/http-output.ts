/**
 * The response of `netkit http METHOD URL` on its way out: the `-i` status blocks as the server's
 * bytes (on stdout, or with `-o` in the file before the body, as curl writes them), the `--meta`
 * headers as text with secrets hidden, and the body to stdout (curl's rules: `| head` ends
 * quietly, binary is not written to a terminal) or through a progress bar to `-o`.
 */
import path from 'node:path';
import { NetkitError } from '../core/errors.js';
import { byteStringToBuffer, byteStringToText } from '../http/latin1.js';
import { type HttpRequestOptions, type HttpResponse, redactHeader } from '../http/request.js';
import { redactLocation } from '../http/request-headers.js';
import { copyToStdout } from './stdout.js';
import { createProgress, type Progress } from './util.js';

type Head = Pick<HttpResponse, 'httpVersion' | 'status' | 'statusText' | 'rawHeaders'>;

/**
 * The status line and headers as the server sent them (header values are its bytes), a password
 * in a Location hidden; lines end in `eol` (`-i` prints LF, `-D` writes CRLF, as on the wire).
 */
export function statusBlock(h: Head, eol = '\n'): Buffer {
  const headers = h.rawHeaders.map(([k, v]) => {
    const value = k.toLowerCase() === 'location' ? redactLocation(v) : v;
    return `${k}: ${value}${eol}`;
  });
  return Buffer.concat([
    Buffer.from(`${`HTTP/${h.httpVersion} ${h.status} ${h.statusText}`.trimEnd()}${eol}`),
    byteStringToBuffer(`${headers.join('')}${eol}`),
  ]);
}

/**
 * Every head a request received, in order, as curl -i shows them: for each hop and for the final
 * response, its 1xx responses (103 Early Hints …) and then its own head.
 */
export function allHeads(res: Pick<HttpResponse, 'hops' | 'interim'> & Head): Head[] {
  const withInterim = (h: Head & Pick<HttpResponse, 'interim'>): Head[] => [
    ...h.interim.map((i) => ({ ...i, httpVersion: h.httpVersion })),
    h,
  ];
  return [...res.hops.flatMap(withInterim), ...withInterim(res)];
}

/** Trailer fields as curl -i and -D show them, after the body: one line each, no blank line. */
export function trailerBlock(trailers: HttpResponse['trailers'], eol = '\n'): Buffer {
  return byteStringToBuffer(trailers.map(([k, v]) => `${k}: ${v}${eol}`).join(''));
}

/**
 * The body as `-i -o FILE` saves it, as curl does: every head before it and the trailers after
 * it, in the file, CRLF as on the wire. `framing` hears the bytes that are not the body.
 */
export async function* withHeadsAround(
  res: HttpResponse,
  body: AsyncIterable<Uint8Array>,
  framing: (bytes: number) => void,
): AsyncIterable<Uint8Array> {
  const heads = Buffer.concat(allHeads(res).map((h) => statusBlock(h, '\r\n')));
  framing(heads.length);
  yield heads;
  yield* body;
  // undici has the trailers once the body has ended
  if (res.trailers.length > 0) {
    const trailers = trailerBlock(res.trailers, '\r\n');
    framing(trailers.length);
    yield trailers;
  }
}

/** Response headers for --meta: as text, with cookies and a Location's password hidden. */
export function metaHeaders(headers: HttpResponse['headers']): HttpResponse['headers'] {
  const shown = (k: string, v: string) =>
    byteStringToText(k === 'location' ? redactLocation(v) : redactHeader(k, v));
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => shown(k, x)) : shown(k, v)]),
  );
}

/**
 * The body on its way to `-o FILE`, with its progress on stderr as it passes: a bar on a terminal,
 * plain lines otherwise once it has taken a few seconds (createProgress), so a log shows a long
 * transfer moving; nothing with `-s`. `source` is the body as it arrives (paced by --limit-rate).
 */
export function withProgress(
  res: HttpResponse,
  file: string,
  source: AsyncIterable<Uint8Array> = res.body as AsyncIterable<Uint8Array>,
  quiet = false,
): AsyncIterable<Uint8Array> {
  if (quiet) return source;
  const length = Number(res.headers['content-length']);
  const progress = createProgress(path.basename(file), Number.isFinite(length) ? length : undefined);
  return (async function* () {
    let done = 0;
    try {
      for await (const chunk of source) {
        done += chunk.length;
        progress.update(done);
        yield chunk;
      }
    } catch (err) {
      progress.abandon(); // a cut or Ctrl-C: the error (or the shell's prompt) on a line of its own
      throw err;
    }
    progress.finish();
  })();
}

/**
 * The progress of a streamed request body (`--data-file FILE`, `-F name=@FILE`) on stderr, as curl
 * shows its upload: a bar on a terminal, plain lines in a log once it takes a while, nothing with
 * `-s`. A body sent again after a 307/308 gets a new bar; `end()` closes one left unfinished (the
 * server answered before taking it all, or the request failed).
 */
export function uploadProgress(
  request: Pick<HttpRequestOptions, 'bodyFile' | 'multipart'>,
  quiet: boolean,
): { onUploadProgress?: (sent: number, total: number) => void; end(): void } {
  const file = request.bodyFile ?? request.multipart?.find((f) => f.file !== undefined)?.file;
  const label = file === undefined || file === '-' ? 'upload' : path.basename(file);
  let progress: Progress | undefined;
  return {
    onUploadProgress: quiet
      ? undefined
      : (sent, total) => {
          progress ??= createProgress(label, total);
          progress.update(sent);
          if (sent >= total) {
            progress.finish();
            progress = undefined;
          }
        },
    end() {
      progress?.abandon();
      progress = undefined;
    },
  };
}

/**
 * Copy the body to stdout; a reader that goes away (`| head`) ends the transfer quietly, like curl.
 * `binaryToTerminal` false: a NUL byte bound for a terminal stops it, as curl does.
 */
export async function bodyToStdout(
  res: HttpResponse,
  body: AsyncIterable<Uint8Array>,
  binaryToTerminal: boolean,
): Promise<number> {
  const guard = !binaryToTerminal && process.stdout.isTTY === true;
  let bytes = 0;
  const checked = (async function* () {
    for await (const chunk of body) {
      if (guard && chunk.includes(0)) {
        res.body.destroy();
        throw new NetkitError(
          'NETKIT_IO',
          'binary output can mess up your terminal: use -o FILE to save it, or -o - to print it anyway',
        );
      }
      bytes += chunk.length;
      yield chunk;
    }
  })();
  if (!(await copyToStdout(checked))) res.body.destroy();
  return bytes;
}
