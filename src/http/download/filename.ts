/**
 * Where a download lands: `-o` if given, else the server's `Content-Disposition` (RFC 6266:
 * `filename*=` in RFC 8187/5987 encoding wins over `filename=`), else the last segment of the URL
 * path, else `index.html`. Every name that comes from the network is sanitised — the server must
 * never be able to choose a directory, climb out with `..`, hide a file behind a leading dot, or
 * smuggle control characters into a terminal — which is why this is our own code and table-tested.
 */
import { terminalSafe } from '../../core/terminal-safe.js';

export interface ContentDisposition {
  type: string;
  /** decoded `filename*`, else `filename`, unsanitised */
  filename?: string;
}

/** Split `a=1; b="x;y"` into parameters, honouring quoted strings and backslash escapes. */
function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ';' || text[i] === ' ' || text[i] === '\t')) i++;
    const eq = text.indexOf('=', i);
    if (eq === -1) break;
    // a parameter without a value (`attachment; foo; filename=x`) is skipped, not glued to the next
    const semi = text.indexOf(';', i);
    if (semi !== -1 && semi < eq) {
      i = semi;
      continue;
    }
    const name = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++; // closing quote
      while (i < n && text[i] !== ';') i++;
    } else {
      const semi = text.indexOf(';', i);
      const end = semi === -1 ? n : semi;
      value = text.slice(i, end).trim();
      i = end;
    }
    if (name && !params.has(name)) params.set(name, value);
  }
  return params;
}

/** RFC 8187 ext-value: `UTF-8'lang'pct-encoded` (or ISO-8859-1). Invalid → undefined. */
export function decodeExtValue(value: string): string | undefined {
  const m = /^([A-Za-z0-9!#$%&+^_`{}~-]+)'[A-Za-z0-9-]*'(.*)$/.exec(value);
  if (!m) return undefined;
  const charset = m[1]!.toLowerCase();
  const encoded = m[2]!;
  if (!/^(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+.^_`|~-])*$/.test(encoded)) return undefined;
  if (charset === 'utf-8') {
    try {
      return decodeURIComponent(encoded);
    } catch {
      return undefined;
    }
  }
  if (charset === 'iso-8859-1') {
    return encoded.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) =>
      String.fromCharCode(Number.parseInt(h, 16)),
    );
  }
  return undefined;
}

/** A Content-Disposition header's type and file name (`filename*` of RFC 6266 first); undefined when absent or malformed. */
export function parseContentDisposition(value: string | undefined): ContentDisposition | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (!type || type.includes('=')) return undefined;
  const params = semi === -1 ? new Map<string, string>() : parseParams(value.slice(semi + 1));
  const star = params.get('filename*');
  const decoded = star === undefined ? undefined : decodeExtValue(star);
  const plain = params.get('filename');
  const filename = decoded ?? (plain === undefined ? undefined : utf8IfValid(plain));
  return filename === undefined ? { type } : { type, filename };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value arrives one character per byte (Latin-1). Servers put raw UTF-8 into a plain
 * `filename="…"` all the time (RFC 6266 says to use `filename*`), so bytes that form valid UTF-8
 * are read as UTF-8, as curl and browsers do; anything else stays Latin-1.
 */
function utf8IfValid(value: string): string {
  if (!/[\x80-\xff]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;
/**
 * 255 bytes (a file name's limit on Linux, macOS and Windows) less room for what the downloader
 * appends: a collision suffix (`.1`, up to `.999999`) and the resume files' `.part.netkit`. wget
 * keeps back 19 bytes for the same reason. A longer name from a server made every write fail.
 */
const MAX_NAME_BYTES = 255 - '.999999'.length - '.part.netkit'.length;

/**
 * Make a network-supplied name safe to create in the download directory, or undefined if nothing
 * usable is left. Rules: keep only the part after the last `/` or `\`; drop C0/C1 control
 * characters, DEL, and bidi and zero-width characters ({@link terminalSafe}); replace characters
 * Windows forbids (`<>:"|?*`) with `_`; strip leading dots
 * and spaces (no hidden files, no `..`) and trailing dots and spaces; prefix Windows device names
 * with `_`; cut to 236 bytes of UTF-8 (room for the suffixes), keeping the extension.
 */
export function sanitizeFilename(name: string): string | undefined {
  let s = name.normalize('NFC');
  s = s.slice(Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\')) + 1);
  s = terminalSafe(s, { replaceWith: '' });
  s = s.replace(/[<>:"|?*]/g, '_');
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (!s) return undefined;
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  if (Buffer.byteLength(s) > MAX_NAME_BYTES) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
    let stem = s.slice(0, s.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = Array.from(stem).slice(0, -1).join('');
    s = stem + ext;
  }
  return s;
}

/**
 * The last path segment of a URL, percent-decoded once and sanitised; none for a path that ends in
 * `/` (a directory's index: `index.html`, as wget and aria2c name it).
 */
export function filenameFromUrl(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const last = pathname.slice(pathname.lastIndexOf('/') + 1);
  if (last === '') return undefined;
  let decoded = last;
  try {
    decoded = decodeURIComponent(last);
  } catch {
    // keep the raw segment
  }
  return sanitizeFilename(decoded);
}

/** The output name when the user gave no `-o`. */
export function chooseFilename(url: string, contentDisposition?: string): string {
  const cd = parseContentDisposition(contentDisposition);
  const fromHeader = cd?.filename === undefined ? undefined : sanitizeFilename(cd.filename);
  return fromHeader ?? filenameFromUrl(url) ?? 'index.html';
}
