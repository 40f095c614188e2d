/**
 * curl's data options for `netkit http METHOD URL`: `-d/--data`, `--data-raw` and `--data-binary`,
 * joined with '&' in the order given, as curl joins them. `@FILE` (`@-`: standard input) reads a
 * file: `-d` drops its CR and LF characters (curl's rule), `--data-binary` keeps every byte, and
 * `--data-raw` takes `@` literally. With `-G` the data goes into the URL's query instead.
 */
import { readFile } from 'node:fs/promises';
import { errorMessage, NetkitError } from '../core/errors.js';
import { percentEncodeHighBytes } from '../http/latin1.js';
import { partSource } from '../http/multipart.js';

export interface DataPiece {
  kind: 'data' | 'raw' | 'binary';
  value: string;
  /** position on the command line, across the three options */
  order: number;
}

let given = 0;

/** A commander argParser for one data option; pieces remember their command-line order. */
export function dataPiece(kind: DataPiece['kind']) {
  return (value: string, previous: DataPiece[] = []): DataPiece[] => [
    ...previous,
    { kind, value, order: given++ },
  ];
}

/** A whole file, or standard input for `-` (read once: a second `@-` gets nothing, as in curl). */
export async function readWhole(file: string): Promise<Buffer> {
  const source = await partSource(file);
  if ('value' in source) return source.value;
  try {
    return await readFile(source.file);
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

async function pieceBytes(p: DataPiece): Promise<Buffer> {
  if (p.kind === 'raw' || !p.value.startsWith('@')) return Buffer.from(p.value);
  const bytes = await readWhole(p.value.slice(1));
  return p.kind === 'binary' ? bytes : Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a));
}

/** The body of the data options given (undefined when none), in command-line order. */
export async function dataBody(...options: Array<DataPiece[] | undefined>): Promise<Buffer | undefined> {
  const pieces = options.flatMap((o) => o ?? []).sort((a, b) => a.order - b.order);
  if (pieces.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const p of pieces) parts.push(await pieceBytes(p)); // one at a time: stdin is read once
  return Buffer.concat(parts.flatMap((b, i) => (i ? [Buffer.from('&'), b] : [b])));
}

/** `url` with `data` appended to its query (curl -G): `?data`, or `&data` after a query. */
export function withQuery(url: string, data: Buffer): string {
  const hash = url.indexOf('#');
  const [base, fragment] = hash === -1 ? [url, ''] : [url.slice(0, hash), url.slice(hash)];
  const query = percentEncodeHighBytes(data.toString('latin1'));
  return `${base}${base.includes('?') ? '&' : '?'}${query}${fragment}`;
}
