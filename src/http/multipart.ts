/**
 * `multipart/form-data` request bodies (RFC 7578; curl -F): text fields and file uploads, streamed
 * from disk (never held in memory) with an exact Content-Length. Our own writer rather than
 * undici's FormData: that one turns every LF in a text field into CRLF (the HTML rule), and
 * `name=<FILE` must send the file's bytes as they are, as curl does.
 *
 * `parseMultipartArg` reads curl's `-F` syntax: `name=value`, `name=@FILE` (an upload) and
 * `name=<FILE` (the file's bytes as a field), each optionally followed by `;type=MIME` (which may
 * carry its own `;charset=…`) and `;filename=NAME`, any of them double-quoted with `\"` and `\\`
 * escapes. `-` is standard input. `--form-string name=value` takes the value literally.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { errorMessage, NetkitError } from '../core/errors.js';
import { fileErrorReason } from '../core/fs-errors.js';
import { contentType } from './mime.js';

export interface MultipartField {
  name: string;
  /** a text field's value */
  value?: string;
  /** a file whose bytes are sent as this field's value (curl `name=<FILE`), streamed */
  valueFile?: string;
  /** a file to upload as this field (curl `name=@FILE`), streamed */
  file?: string;
  /** the filename sent with the part (default for `file`: its base name) */
  filename?: string;
  /** the part's Content-Type (default for `file`: from the file's extension, as curl guesses) */
  type?: string;
}

/** `"`, CR and LF in a name or filename, escaped the way browsers do (WHATWG, RFC 7578 §2). */
function quoted(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function usage(message: string): NetkitError {
  return new NetkitError('NETKIT_USAGE', message);
}

/** A library caller's field, checked: a name, exactly one source, no line breaks in the type. */
function checkField(f: MultipartField): void {
  if (typeof f.name !== 'string') throw usage('a multipart field needs a name');
  const sources = [f.value !== undefined, f.valueFile !== undefined, f.file !== undefined].filter(Boolean);
  if (sources.length !== 1)
    throw usage(`multipart field "${f.name}" needs exactly one of value, valueFile, file`);
  if (f.type !== undefined && (f.type === '' || /[\r\n]/.test(f.type)))
    throw usage(`multipart field "${f.name}": bad type ${JSON.stringify(f.type)}`);
}

export interface PreparedMultipart {
  /** `multipart/form-data; boundary=…` */
  contentType: string;
  boundary: string;
  /** the exact body size: every part's size is known before sending */
  length: number;
  /** the body, read afresh on each call (a 307/308 redirect sends it again) */
  body: () => Readable;
}

/**
 * Where a part's bytes come from: a regular file is streamed (its size known up front); standard
 * input (`-`) and pipes or devices are read whole first, as curl reads `@-`, so the length is
 * known and a 307/308 can send them again.
 */
export async function partSource(file: string): Promise<{ file: string; size: number } | { value: Buffer }> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return { value: Buffer.concat(chunks) };
    }
    const st = await stat(file);
    if (st.isFile()) return { file, size: st.size };
    if (st.isDirectory()) throw new Error('is a directory');
    return { value: await readFile(file) };
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `cannot read ${file}: ${fileErrorReason(err) ?? errorMessage(err)}`, {
      cause: err,
    });
  }
}

/**
 * Lay out the form: text fields as their bytes (unchanged, as curl sends them: no CRLF
 * conversion), files streamed from disk with a Content-Type from their name unless given.
 * Every file is checked first, so a missing one is a clear error, not a half-sent request.
 */
export async function prepareMultipart(fields: readonly MultipartField[]): Promise<PreparedMultipart> {
  if (fields.length === 0) throw usage('a multipart form needs at least one field');
  const boundary = `------------------------netkit${randomBytes(12).toString('hex')}`;
  const parts: Array<{ head: Buffer; value?: Buffer; file?: string; size: number }> = [];
  for (const f of fields) {
    checkField(f);
    const source = f.file ?? f.valueFile;
    let disposition = `form-data; name="${quoted(f.name)}"`;
    const filename = f.filename ?? (f.file !== undefined ? path.basename(f.file) : undefined);
    if (filename !== undefined) disposition += `; filename="${quoted(filename)}"`;
    // curl guesses an upload's type from the local file's name, whatever filename= says (and
    // calls standard input text/plain)
    const guessed = f.file === '-' ? 'text/plain' : contentType(f.file ?? '').replace(/;.*$/, '');
    const type = f.type ?? (f.file !== undefined ? guessed : undefined);
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`,
    );
    const from = source === undefined ? undefined : await partSource(source);
    if (from && 'file' in from) parts.push({ head, file: from.file, size: from.size });
    else if (from) parts.push({ head, value: from.value, size: from.value.length });
    else {
      const value = Buffer.from(f.value ?? '');
      parts.push({ head, value, size: value.length });
    }
  }
  const tail = Buffer.from(`--${boundary}--\r\n`);
  const length = parts.reduce((n, p) => n + p.head.length + p.size + CRLF.length, tail.length);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    boundary,
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

/** curl's -F modifiers; anything else after a `;` is an error (curl skips it with a warning). */
const MODIFIERS = new Set(['type', 'filename']);

/** A word of a -F argument: `"quoted"` (with `\"` and `\\` escapes) or up to the next `;`. */
function word(text: string, at: number): { value: string; end: number } {
  if (text[at] !== '"') {
    const semi = text.indexOf(';', at);
    const end = semi === -1 ? text.length : semi;
    return { value: text.slice(at, end), end };
  }
  let value = '';
  let i = at + 1;
  for (; i < text.length && text[i] !== '"'; i++) {
    if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
    value += text[i];
  }
  if (i >= text.length) throw usage(`bad -F: unterminated quote in ${JSON.stringify(text)}`);
  return { value, end: i + 1 };
}

/** One curl `-F` argument (see the module comment). Files are only named here, read when sent. */
export function parseMultipartArg(arg: string): MultipartField {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw usage(`bad -F ${JSON.stringify(arg)} (expected name=value, name=@file or name=<file)`);
  const name = arg.slice(0, eq);
  let at = eq + 1;
  const kind = arg[at] === '@' ? 'file' : arg[at] === '<' ? 'valueFile' : 'value';
  if (kind !== 'value') at++;
  const first = word(arg, at);
  const field: MultipartField = { name, [kind]: first.value };
  if (kind !== 'value' && first.value === '') throw usage(`bad -F ${JSON.stringify(arg)}: no file name`);
  at = first.end;
  while (at < arg.length) {
    if (arg[at] !== ';') throw usage(`bad -F ${JSON.stringify(arg)}: text after a closing quote`);
    at++;
    while (arg[at] === ' ') at++;
    const keyEnd = arg.indexOf('=', at);
    const key = keyEnd === -1 ? '' : arg.slice(at, keyEnd).trim().toLowerCase();
    if (!MODIFIERS.has(key)) {
      const rest = arg.slice(at).split(';')[0];
      throw usage(
        `bad -F ${JSON.stringify(arg)}: unknown ";${rest}" (type= and filename= are known; quote a value that contains ";")`,
      );
    }
    const v = word(arg, keyEnd + 1);
    at = v.end;
    let value = v.value.trim();
    if (key === 'type' && arg[keyEnd + 1] !== '"') {
      // a type's own parameters (`text/plain;charset=utf-8`) belong to it, as curl reads them
      while (at < arg.length && arg[at] === ';') {
        const next = arg.slice(at + 1).trimStart();
        const k = next.slice(0, next.indexOf('=')).trim().toLowerCase();
        if (next.indexOf('=') === -1 || MODIFIERS.has(k)) break;
        const more = word(arg, at + 1);
        value += `;${more.value}`;
        at = more.end;
      }
    }
    if (key === 'type' && !/^[^\s/;]+\/[^\s/;]+/.test(value))
      throw usage(`bad -F ${JSON.stringify(arg)}: type must be like text/plain`);
    field[key as 'type' | 'filename'] = value;
  }
  return field;
}

/** `--form-string name=value`: the value exactly as given, no `@`, `<` or `;` processing. */
export function parseFormString(arg: string): MultipartField {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw usage(`bad --form-string ${JSON.stringify(arg)} (expected name=value)`);
  return { name: arg.slice(0, eq), value: arg.slice(eq + 1) };
}
