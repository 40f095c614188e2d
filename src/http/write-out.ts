/**
 * curl's `-w, --write-out FORMAT`, for `netkit http METHOD URL`: the format is text with
 * `%{variable}`s, `%header{name}`, `%%`, and `\n` `\r` `\t` escapes, written after the transfer.
 * A pure formatter (the CLI collects the values and writes the pieces), our own because it is
 * curl's grammar to the letter, as curl 7.88's `tool_writeout.c` reads it:
 *
 * - variable names are matched without regard to case; an unknown one prints a warning
 *   (`unknown --write-out variable: 'x'`) and nothing; `%{` without a `}` is printed as it is;
 * - `%header{name}` is the first response header of that name of the last response (note: not
 *   `%{header{name}}`, which curl reads as the unknown variable `header{name` followed by `}`);
 * - `%{stdout}` / `%{stderr}` switch where the rest goes; `%{onerror}` drops the rest when the
 *   transfer succeeded; `%{json}` is every variable as one JSON object, `%{header_json}` the last
 *   response's headers;
 * - `%` before anything else, and `\` before anything but `n`, `r`, `t`, are printed as they are;
 * - times are seconds with six decimals (`0.004211`), `http_code` three digits (`000` when there
 *   was no response), sizes and counts integers.
 */

/** Everything a format can ask for about one finished (or failed) transfer. */
export interface WriteOutInfo {
  /** the URL as given */
  url: string;
  /** the URL of the last request (after redirects) */
  urlEffective: string;
  method: string;
  /** 0 when no response came */
  responseCode: number;
  /** '1.0', '1.1', '2'; '0' when no response came */
  httpVersion: string;
  /** headers of the last response, in order (values as text) */
  headers: ReadonlyArray<readonly [string, string]>;
  numRedirects: number;
  /** the Location of a redirect that was not followed */
  redirectUrl?: string;
  /** the Referer sent with the last request */
  referer?: string;
  /** body bytes received (before any decoding) */
  sizeDownload: number;
  /** bytes of status lines and headers received, every hop included */
  sizeHeader: number;
  /** request bytes sent, every hop included (undefined when not known: through a proxy) */
  sizeRequest?: number;
  sizeUpload: number;
  numConnects: number;
  remoteIp: string;
  remotePort: number;
  localIp: string;
  localPort: number;
  /** seconds */
  timeNamelookup: number;
  timeConnect: number;
  timeAppconnect: number;
  timePretransfer: number;
  timeStarttransfer: number;
  timeRedirect: number;
  timeTotal: number;
  /** the process's exit status */
  exitcode: number;
  /** the error, when the transfer failed */
  errormsg?: string;
  /** the file the body went to (undefined for standard output) */
  filenameEffective?: string;
  /** the tool and version, in %{json} (curl has `curl_version` there) */
  version: string;
}

export interface WriteOutPiece {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface WriteOutResult {
  pieces: WriteOutPiece[];
  /** one per unknown variable, as curl words them */
  warnings: string[];
}

type Value = string | number | null;

interface Variable {
  /** the value in JSON (`null`: absent) */
  json: (i: WriteOutInfo) => Value;
  /** the value as text; default: the JSON value, `null` as nothing */
  text?: (i: WriteOutInfo) => string;
  /** a time in seconds: six decimals in both forms */
  seconds?: boolean;
}

const str = (v: string | undefined): Value => (v === undefined ? null : v);
const code3 = (n: number) => String(n).padStart(3, '0');
/** curl's speeds: whole bytes per second over the total time */
const speed = (bytes: number, seconds: number) => (seconds > 0 ? Math.floor(bytes / seconds) : 0);

function contentType(i: WriteOutInfo): string | undefined {
  return firstHeader(i.headers, 'content-type');
}

function firstHeader(headers: WriteOutInfo['headers'], name: string): string | undefined {
  const n = name.toLowerCase();
  return headers.find(([k]) => k.toLowerCase() === n)?.[1];
}

/** The variables, in curl's (alphabetical) order, which is also the order of `%{json}`. */
const VARIABLES: Record<string, Variable> = {
  content_type: { json: (i) => str(contentType(i)) },
  errormsg: { json: (i) => str(i.errormsg) },
  exitcode: { json: (i) => i.exitcode },
  filename_effective: { json: (i) => str(i.filenameEffective) },
  http_code: { json: (i) => i.responseCode, text: (i) => code3(i.responseCode) },
  http_version: { json: (i) => i.httpVersion },
  local_ip: { json: (i) => i.localIp },
  local_port: { json: (i) => i.localPort },
  method: { json: (i) => i.method },
  num_connects: { json: (i) => i.numConnects },
  num_headers: { json: (i) => i.headers.length },
  num_redirects: { json: (i) => i.numRedirects },
  redirect_url: { json: (i) => str(i.redirectUrl) },
  referer: { json: (i) => str(i.referer) },
  remote_ip: { json: (i) => i.remoteIp },
  remote_port: { json: (i) => i.remotePort },
  response_code: { json: (i) => i.responseCode, text: (i) => code3(i.responseCode) },
  scheme: {
    // curl names the scheme of the last request in upper case, once there was one
    json: (i) =>
      i.responseCode === 0 ? null : (/^([a-z][a-z0-9+.-]*):/i.exec(i.urlEffective)?.[1] ?? '').toUpperCase(),
  },
  size_download: { json: (i) => i.sizeDownload },
  size_header: { json: (i) => i.sizeHeader },
  size_request: { json: (i) => i.sizeRequest ?? 0 },
  size_upload: { json: (i) => i.sizeUpload },
  speed_download: { json: (i) => speed(i.sizeDownload, i.timeTotal) },
  speed_upload: { json: (i) => speed(i.sizeUpload, i.timeTotal) },
  ssl_verify_result: { json: () => 0 },
  time_appconnect: { json: (i) => i.timeAppconnect, seconds: true },
  time_connect: { json: (i) => i.timeConnect, seconds: true },
  time_namelookup: { json: (i) => i.timeNamelookup, seconds: true },
  time_pretransfer: { json: (i) => i.timePretransfer, seconds: true },
  time_redirect: { json: (i) => i.timeRedirect, seconds: true },
  time_starttransfer: { json: (i) => i.timeStarttransfer, seconds: true },
  time_total: { json: (i) => i.timeTotal, seconds: true },
  url: { json: (i) => i.url },
  url_effective: { json: (i) => i.urlEffective },
  urlnum: { json: () => 0 },
};

/** The switches and aggregates, which are not values (and not in `%{json}`). */
const SPECIAL = new Set(['stdout', 'stderr', 'onerror', 'json', 'header_json']);

/** Every name `%{…}` understands. */
export const WRITE_OUT_VARIABLES: readonly string[] = [...Object.keys(VARIABLES), ...SPECIAL].sort();

const seconds = (s: number) => Math.max(0, s).toFixed(6);

function textOf(v: Variable, info: WriteOutInfo): string {
  if (v.seconds) return seconds(v.json(info) as number);
  if (v.text) return v.text(info);
  const value = v.json(info);
  return value === null ? '' : String(value);
}

/** A JSON string as curl writes one (control characters escaped, the rest as it is). */
function jsonString(s: string): string {
  return JSON.stringify(s);
}

function jsonOf(v: Variable, info: WriteOutInfo): string {
  const value = v.json(info);
  if (v.seconds) return seconds(value as number);
  if (value === null) return 'null';
  return typeof value === 'number' ? String(value) : jsonString(value);
}

/** `%{json}`: every variable, in curl's order, with the tool's version last. */
export function writeOutJson(info: WriteOutInfo): string {
  const fields = Object.entries(VARIABLES).map(([name, v]) => `${jsonString(name)}:${jsonOf(v, info)}`);
  fields.push(`"netkit_version":${jsonString(info.version)}`);
  return `{${fields.join(',')}}`;
}

/** `%{header_json}`: each header name (lower case) once, with all its values, as curl lays it out. */
export function headerJson(headers: WriteOutInfo['headers']): string {
  const byName = new Map<string, string[]>();
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    const list = byName.get(n);
    if (list) list.push(v);
    else byName.set(n, [v]);
  }
  const lines = [...byName].map(([n, values]) => `${jsonString(n)}:[${values.map(jsonString).join(',')}]`);
  return `{${lines.join(',\n')}\n}`;
}

/** The output of `format` for `info`: pieces for stdout and stderr, and the warnings to print. */
export function formatWriteOut(format: string, info: WriteOutInfo): WriteOutResult {
  const pieces: WriteOutPiece[] = [];
  const warnings: string[] = [];
  let stream: WriteOutPiece['stream'] = 'stdout';
  let text = '';
  const out = (s: string) => {
    text += s;
  };
  const flush = () => {
    if (text) pieces.push({ stream, text });
    text = '';
  };
  let i = 0;
  const n = format.length;
  while (i < n) {
    const c = format[i]!;
    if (c === '%' && i + 1 < n) {
      const next = format[i + 1]!;
      if (next === '%') {
        out('%');
        i += 2;
      } else if (next === '{') {
        const end = format.indexOf('}', i + 2);
        if (end === -1) {
          out('%{');
          i += 2;
          continue;
        }
        const name = format.slice(i + 2, end);
        const key = name.toLowerCase();
        i = end + 1;
        if (key === 'stdout' || key === 'stderr') {
          flush();
          stream = key;
        } else if (key === 'onerror') {
          if (info.exitcode === 0) break;
        } else if (key === 'json') out(writeOutJson(info));
        else if (key === 'header_json') out(headerJson(info.headers));
        else if (Object.hasOwn(VARIABLES, key)) out(textOf(VARIABLES[key]!, info));
        else warnings.push(`unknown --write-out variable: '${name}'`);
      } else if (format.startsWith('header{', i + 1)) {
        const end = format.indexOf('}', i + 8);
        if (end === -1) {
          out('%header{');
          i += 8;
          continue;
        }
        const name = format.slice(i + 8, end);
        // curl looks names up in a 256-byte buffer: a longer one finds nothing
        const value = name.length < 256 ? firstHeader(info.headers, name) : undefined;
        if (value !== undefined) out(value);
        i = end + 1;
      } else {
        out(`%${next}`);
        i += 2;
      }
    } else if (c === '\\' && i + 1 < n) {
      const next = format[i + 1]!;
      out(next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : `\\${next}`);
      i += 2;
    } else {
      out(c);
      i += 1;
    }
  }
  flush();
  return { pieces, warnings };
}

/** Bytes of a status line and headers as they came on the wire (HTTP/1: `Name: value` CRLF each). */
export function headerBytes(h: {
  httpVersion: string;
  status: number;
  statusText: string;
  rawHeaders: ReadonlyArray<readonly [string, string]>;
}): number {
  let size = Buffer.byteLength(`HTTP/${h.httpVersion} ${h.status} ${h.statusText}`.trimEnd(), 'latin1') + 2;
  for (const [k, v] of h.rawHeaders) size += Buffer.byteLength(`${k}: ${v}`, 'latin1') + 2;
  return size + 2;
}

/**
 * The format of `-w @FILE`, read as curl reads it: line by line, each line's line end dropped (and
 * anything after a CR in it), the lines joined with nothing between them. So a newline in the
 * output is written `\n` in the file too.
 */
export function writeOutFormatFromFile(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const cr = line.indexOf('\r');
      return cr === -1 ? line : line.slice(0, cr);
    })
    .join('');
}
