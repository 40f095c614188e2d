/**
 * File names are bytes, not text. A tree written on a Latin-1 system has names that are not UTF-8,
 * and Node cannot name such a file with a string (string paths are encoded as UTF-8): only a Buffer
 * path reaches it. nginx serves these files (its listing percent-encodes the raw bytes and the
 * raw-byte URL resolves), so the file server keeps a path as a string while its bytes are UTF-8 and
 * as a Buffer only when they are not — ordinary paths take the ordinary route. Comparisons between
 * the two forms are made on their bytes.
 */
import { isUtf8 } from 'node:buffer';
import path from 'node:path';

/** A path Node can open: text when its bytes are UTF-8, else the bytes. */
export type FsPath = string | Buffer;

/** `bytes` as a path: the string when they are UTF-8 (the usual case), else the bytes themselves. */
export function fsPath(bytes: Buffer): FsPath {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes;
}

/** A path for people (listing titles, logs): bytes that are not UTF-8 show as U+FFFD. */
export function displayPath(p: FsPath): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

/** `dir/name/…`; `names` are single path segments (no `/`, no dot-segments). */
export function joinFsPath(dir: FsPath, ...names: FsPath[]): FsPath {
  if (typeof dir === 'string' && names.every((n) => typeof n === 'string'))
    return path.join(dir, ...(names as string[]));
  const parts: Buffer[] = [Buffer.from(dir)];
  for (const name of names) {
    if (parts[parts.length - 1]!.at(-1) !== 0x2f) parts.push(Buffer.from('/'));
    parts.push(Buffer.from(name));
  }
  return fsPath(Buffer.concat(parts));
}

/** A path's bytes as a Latin-1 string (one character per byte): prefix tests on it are byte-exact. */
export function byteKey(p: FsPath): string {
  return (typeof p === 'string' ? Buffer.from(p) : p).toString('latin1');
}

/**
 * Strict percent-decoding to bytes: every `%` must start `%XX`, else undefined (the caller's 400).
 * Unlike decodeURIComponent, `%E9` (Latin-1 é) is a byte like any other.
 */
export function percentDecodeBytes(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'latin1');
  if (!bytes.includes(0x25)) return bytes;
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x25) {
      out[n++] = b;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    out[n++] = Number.parseInt(hex, 16);
    i += 2;
  }
  return out.subarray(0, n);
}

/** Bytes that encodeURIComponent leaves as they are. */
const UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]$/;

/** A name percent-encoded for a URL path segment, byte by byte: encodeURIComponent for any bytes. */
export function percentEncodeName(name: FsPath): string {
  if (typeof name === 'string') return encodeURIComponent(name);
  let out = '';
  for (const b of name) {
    const c = String.fromCharCode(b);
    out += UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
