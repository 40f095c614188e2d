/**
 * `multipart/form-data` request bodies (RFC 7578; curl -F): text fields and file uploads, streamed
 * from disk (never held in memory) with an exact Content-Length. Our own writer rather than
 * undici's FormData: that one turns every LF in a text field into CRLF (the HTML rule), and
 * `name=<FILE` must send the file's bytes as they are, as curl does.
 *
 * `parseMultipartArg` reads curl's `-F` syntax: `name=value`, `name=@FILE` (upload, optionally
 * `;type=MIME` and `;filename=NAME`) and `name=<FILE` (the file's content as a text field).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { errorMessage, NetkitError } from '../core/errors.js';
import { contentType } from './mime.js';

export interface MultipartField {
  name: string;
  /** a text field's value */
  value?: string;
  /** a file to upload as this field */
  file?: string;
  /** the filename sent with `file` (default: its base name) */
  filename?: string;
  /** the part's Content-Type for `file` (default: from the file name's extension, as curl guesses) */
  type?: string;
}

/** `"`, CR and LF in a name or filename, escaped the way browsers do (WHATWG, RFC 7578 §2). */
function quoted(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export interface PreparedMultipart {
  contentType: string;
  /** the exact body size: every part's size is known before sending */
  length: number;
  /** the body, read afresh on each call (a 307/308 redirect sends it again) */
  body: () => Readable;
}

/**
 * Lay out the form: text fields as their bytes (unchanged, as curl sends them: no CRLF
 * conversion), files streamed from disk with a Content-Type from their name unless given.
 * Every file is checked first, so a missing one is a clear error, not a half-sent request.
 */
export async function prepareMultipart(fields: readonly MultipartField[]): Promise<PreparedMultipart> {
  const boundary = `------------------------netkit${randomBytes(12).toString('hex')}`;
  const parts: Array<{ head: Buffer; value?: Buffer; file?: string; size: number }> = [];
  for (const f of fields) {
    let disposition = `form-data; name="${quoted(f.name)}"`;
    let head: string;
    if (f.file !== undefined) {
      let size: number;
      try {
        const st = await stat(f.file);
        if (!st.isFile()) throw new Error('not a regular file');
        size = st.size;
      } catch (err) {
        throw new NetkitError('NETKIT_IO', `cannot read ${f.file}: ${errorMessage(err)}`, { cause: err });
      }
      const filename = f.filename ?? path.basename(f.file);
      disposition += `; filename="${quoted(filename)}"`;
      const type = f.type ?? contentType(filename).replace(/;.*$/, '');
      head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: ${type}\r\n\r\n`;
      parts.push({ head: Buffer.from(head), file: f.file, size });
    } else {
      const value = Buffer.from(f.value ?? '');
      head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`;
      parts.push({ head: Buffer.from(head), value, size: value.length });
    }
  }
  const tail = Buffer.from(`--${boundary}--\r\n`);
  const length = parts.reduce((n, p) => n + p.head.length + p.size + CRLF.length, tail.length);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    body: () =>
      Readable.from(
        (async function* () {
          for (const p of parts) {
            yield p.head;
            if (p.value) yield p.value;
            else if (p.file !== undefined) yield* createReadStream(p.file);
            yield CRLF;
          }
          yield tail;
        })(),
        { objectMode: false },
      ),
  };
}

const CRLF = Buffer.from('\r\n');

/** One curl `-F` argument. `<FILE` is read here; `@FILE` stays a path (read when sent). */
export async function parseMultipartArg(arg: string): Promise<MultipartField> {
  const eq = arg.indexOf('=');
  if (eq <= 0)
    throw new NetkitError(
      'NETKIT_USAGE',
      `bad -F ${JSON.stringify(arg)} (expected name=value, name=@file or name=<file)`,
    );
  const name = arg.slice(0, eq);
  const rest = arg.slice(eq + 1);
  if (rest.startsWith('<')) {
    const file = rest.slice(1);
    try {
      return { name, value: await readFile(file, 'utf8') };
    } catch (err) {
      throw new NetkitError('NETKIT_IO', `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
    }
  }
  if (!rest.startsWith('@')) return { name, value: rest };
  const [file, ...params] = rest.slice(1).split(';');
  const field: MultipartField = { name, file: file! };
  for (const p of params) {
    const i = p.indexOf('=');
    const key = p.slice(0, i).trim().toLowerCase();
    const value = p.slice(i + 1).trim();
    if (i === -1 || (key !== 'type' && key !== 'filename'))
      throw new NetkitError(
        'NETKIT_USAGE',
        `bad -F ${JSON.stringify(arg)}: unknown ";${p}" (type= and filename= are known)`,
      );
    field[key] = value;
  }
  return field;
}
