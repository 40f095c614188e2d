/**
 * `netkit http get|head|post|put|patch|delete URL` (also upper case: `netkit http POST URL`) — a
 * curl-like request command over src/http/request.ts. The body goes to stdout (or atomically to
 * `-o FILE`), `-i` puts the status line and headers first, `--cookie-jar FILE` keeps a login between
 * runs in a Netscape cookie file that curl and Python read too.
 */
import { once } from 'node:events';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { NetkitError, usageError } from '../core/errors.js';
import { writeStreamAtomic } from '../http/atomic-write.js';
import { decodeBody } from '../http/content-encoding.js';
import { type CookieJar, loadCookieJar, saveCookieJar } from '../http/cookie-jar.js';
import { parseFormString, parseMultipartArg } from '../http/multipart.js';
import {
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_USER_AGENT,
  HTTP_METHODS,
  HttpClient,
  type HttpMethod,
  type HttpRequestOptions,
  type HttpResponse,
  httpError,
  parseRequestUrl,
} from '../http/request.js';
import {
  basicAuth,
  netrcFileOption,
  netrcOption,
  noProxyOption,
  proxyOption,
  userOption,
} from './http-options.js';
import { action, collect, createProgress, durationOption, parseNonNegative, printTrace } from './util.js';

interface RequestCliOptions {
  header: string[];
  /** body options: absent on HEAD, which cannot have a body */
  data?: string[];
  dataFile?: string;
  multipart?: string[];
  formString?: string[];
  form?: string[];
  json?: string;
  output?: string;
  include?: boolean;
  location?: boolean;
  maxRedirects: number;
  timeout: number;
  user?: string;
  userAgent: string;
  cookie: string[];
  cookieJar?: string;
  resolve: string[];
  insecure?: boolean;
  netrc?: boolean;
  netrcFile?: string;
  compressed?: boolean;
  proxy?: string;
  noproxy?: string;
  fail?: boolean;
  meta?: boolean;
  trace?: boolean;
}

const DESCRIPTIONS: Record<HttpMethod, string> = {
  GET: 'fetch a URL (body to stdout)',
  HEAD: 'fetch only the status line and headers',
  POST: 'send a body (-d, --data-file, --form, -F, --json) with POST',
  PUT: 'send a body with PUT',
  PATCH: 'send a body with PATCH',
  DELETE: 'send a DELETE request',
};

function parseHeader(h: string): [string, string] {
  const i = h.indexOf(':');
  if (i <= 0) throw usageError(`bad header ${JSON.stringify(h)} (expected 'Name: value')`);
  return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
}

function parseForm(pairs: string[]): Array<[string, string]> {
  return pairs.map((p) => {
    const i = p.indexOf('=');
    if (i === -1) throw usageError(`bad --form field ${JSON.stringify(p)} (expected name=value)`);
    return [p.slice(0, i), p.slice(i + 1)];
  });
}

function parseResolve(entries: string[]): Record<string, string> {
  const table: Record<string, string> = {};
  for (const e of entries) {
    // HOST:PORT:ADDRESS, ADDRESS may be an IPv6 literal in brackets
    const m = /^(\[[^\]]+\]|[^:]+):(\d+):(.+)$/.exec(e);
    if (!m) throw usageError(`bad --resolve ${JSON.stringify(e)} (expected HOST:PORT:ADDRESS)`);
    table[`${m[1]}:${m[2]}`] = m[3]!.replace(/^\[|\]$/g, '');
  }
  return table;
}

function statusBlock(status: number, statusText: string, rawHeaders: Array<[string, string]>): string {
  return (
    `HTTP/1.1 ${status} ${statusText}`.trimEnd() +
    '\n' +
    rawHeaders.map(([k, v]) => `${k}: ${v}\n`).join('') +
    '\n'
  );
}

async function writeStdout(data: string | Uint8Array): Promise<void> {
  if (!process.stdout.write(data)) await once(process.stdout, 'drain');
}

/**
 * The body on its way to `-o FILE`, drawing a progress bar on a terminal (stderr) as it passes;
 * when stderr is not a terminal the body goes to the file untouched, so scripts see only what they
 * asked for.
 */
function withProgress(res: HttpResponse, file: string): AsyncIterable<Uint8Array> {
  if (!process.stderr.isTTY) return res.body as AsyncIterable<Uint8Array>;
  const length = Number(res.headers['content-length']);
  const progress = createProgress(path.basename(file), Number.isFinite(length) ? length : undefined);
  return (async function* () {
    let done = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      done += chunk.length;
      progress.update(done);
      yield chunk;
    }
    progress.finish();
  })();
}

/** Copy the body to stdout; a reader that goes away (`| head`) ends the transfer quietly, like curl. */
async function bodyToStdout(res: HttpResponse, body: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  let closed = false;
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
  };
  process.stdout.on('error', onError);
  try {
    for await (const chunk of body) {
      if (closed) break;
      bytes += (chunk as Buffer).length;
      await writeStdout(chunk as Buffer);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    closed = true;
  } finally {
    process.stdout.off('error', onError);
  }
  if (closed) {
    process.stdout.on('error', () => {});
    res.body.destroy();
  }
  return bytes;
}

async function runRequest(method: HttpMethod, url: string, opts: RequestCliOptions): Promise<void> {
  parseRequestUrl(url); // a usage error here must not touch the cookie jar
  const data = opts.data ?? [];
  const form = opts.form ?? [];
  const multipart = [
    ...(opts.multipart ?? []).map(parseMultipartArg),
    ...(opts.formString ?? []).map(parseFormString),
  ];
  const bodies = [
    data.length > 0,
    opts.dataFile !== undefined,
    form.length > 0,
    opts.json !== undefined,
    multipart.length > 0,
  ];
  if (bodies.filter(Boolean).length > 1)
    throw usageError('give only one of -d, --data-file, --form, -F, --json');
  const headers = opts.header.map(parseHeader);
  const hasType = headers.some(([k]) => k.toLowerCase() === 'content-type');

  const request: HttpRequestOptions = {
    url,
    method,
    headers,
    followRedirects: opts.location,
    compressed: opts.compressed,
  };
  if (data.length) {
    request.body = data.join('&'); // curl joins repeated -d with '&'
    if (!hasType) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  } else if (opts.dataFile !== undefined) {
    request.bodyFile = opts.dataFile;
    if (!hasType) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  } else if (form.length) request.form = parseForm(form);
  else if (opts.json !== undefined) request.json = opts.json;
  else if (multipart.length) request.multipart = multipart;
  if (opts.cookie.length) request.cookies = opts.cookie;
  const auth = await basicAuth(url, opts);
  if (auth) request.auth = auth;

  let jar: CookieJar | undefined;
  if (opts.cookieJar) {
    const loaded = await loadCookieJar(opts.cookieJar);
    for (const w of loaded.warnings)
      process.stderr.write(`netkit: warning: ${opts.cookieJar}: ${w} (line skipped)\n`);
    jar = loaded.jar;
  }

  const client = new HttpClient({
    insecure: opts.insecure,
    timeoutMs: opts.timeout,
    userAgent: opts.userAgent,
    cookieJar: jar,
    maxRedirects: opts.maxRedirects,
    resolve: parseResolve(opts.resolve),
    proxy: opts.proxy,
    noProxy: opts.noproxy,
  });
  if (opts.trace) printTrace(client, 'client');
  const started = Date.now();
  let res: HttpResponse | undefined;
  let bytes = 0;
  try {
    res = await client.request(request);
    const include = opts.include || method === 'HEAD';
    if (include) {
      let head = '';
      for (const h of res.hops) head += statusBlock(h.status, h.statusText, h.rawHeaders);
      head += statusBlock(res.status, res.statusText, res.rawHeaders);
      await writeStdout(head);
    }
    if (opts.fail && res.status >= 400) {
      await res.body.dump().catch(() => {});
      throw new NetkitError('NETKIT_PROTOCOL', `HTTP ${res.status} ${res.statusText} from ${res.url}`.trim());
    }
    try {
      const toFile = opts.output && opts.output !== '-' ? opts.output : undefined;
      // progress counts the bytes as they arrive (what Content-Length promises), before decoding
      const raw = toFile ? withProgress(res, toFile) : (res.body as AsyncIterable<Uint8Array>);
      const body = opts.compressed ? decodeBody(raw, res.headers['content-encoding']) : raw;
      if (toFile) bytes = await writeStreamAtomic(body, toFile);
      else bytes = await bodyToStdout(res, body);
    } catch (err) {
      throw httpError(err, res.url);
    }
  } finally {
    await client.close().catch(() => {});
    if (jar && opts.cookieJar) await saveCookieJar(jar, opts.cookieJar);
  }
  if (opts.meta) {
    process.stderr.write(
      `${JSON.stringify({
        method,
        url: res.url,
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
        redirects: res.redirects,
        bytes,
        ms: Date.now() - started,
        ...(opts.output && opts.output !== '-' ? { output: opts.output } : {}),
      })}\n`,
    );
  }
}

function addMethod(group: Command, method: HttpMethod): void {
  const lower = method.toLowerCase();
  const example = {
    GET: `  $ netkit http get https://example.org/ -i
  $ netkit http GET http://127.0.0.1:8080/big.iso -o big.iso -L
  $ netkit http get http://127.0.0.1:8080/home --cookie-jar jar.txt --trace
  $ netkit http get -x http://proxy.lan:3128 https://example.org/   through an HTTP proxy`,
    HEAD: `  $ netkit http head http://127.0.0.1:8080/file.bin
  HTTP/1.1 200 OK
  Content-Length: 1048576
  …`,
    POST: `  $ netkit http post http://127.0.0.1:8080/login --form user=bob --form password=secret \\
      --cookie-jar jar.txt -L          log in; the session cookie is saved in jar.txt
  $ netkit http get http://127.0.0.1:8080/home --cookie-jar jar.txt    …and used again
  $ netkit http POST http://127.0.0.1:8080/api --json '{"name":"bob"}'
  $ netkit http post http://127.0.0.1:8080/upload --data-file report.csv -H 'Content-Type: text/csv'
  $ netkit http post http://127.0.0.1:8080/upload -F 'file=@report.csv;type=text/csv' -F note=monthly`,
    PUT: `  $ netkit http put http://127.0.0.1:8080/items/1 --json '{"done":true}' -u bob:secret`,
    PATCH: `  $ netkit http patch http://127.0.0.1:8080/items/1 -d 'done=1' --fail`,
    DELETE: `  $ netkit http delete http://127.0.0.1:8080/items/1 -u bob -i`,
  }[method];
  const cmd = group
    .command(lower)
    .alias(method)
    .description(DESCRIPTIONS[method])
    .argument('<url>', 'http:// or https:// URL to request')
    .addOption(
      new Option(
        '-H, --header <header>',
        "extra header 'Name: value' (repeatable; 'Name:' removes a default)",
      )
        .argParser(collect)
        .default([], 'none'),
    );
  // a HEAD request cannot carry a body: its help does not offer the body options
  if (method !== 'HEAD') {
    cmd
      .addOption(
        new Option('-d, --data <data>', 'request body as given (repeatable, joined with "&")')
          .argParser(collect)
          .default([], 'none'),
      )
      .option('--data-file <file>', 'request body from a file')
      .addOption(
        new Option('--form <name=value>', 'urlencoded form field (repeatable)')
          .argParser(collect)
          .default([], 'none'),
      )
      .addOption(
        new Option(
          '-F, --multipart <name=value|name=@file>',
          'multipart/form-data field, as curl -F: name=value, name=@FILE[;type=MIME][;filename=NAME], name=<FILE (repeatable)',
        )
          .argParser(collect)
          .default([], 'none'),
      )
      .addOption(
        new Option(
          '--form-string <name=value>',
          'multipart text field taken literally (no @, < or ;), as in curl',
        )
          .argParser(collect)
          .default([], 'none'),
      )
      .option('--json <json>', 'JSON request body (also sets Content-Type and Accept)');
  }
  cmd
    .option('-o, --output <file>', 'write the body to FILE (atomically) instead of stdout')
    .option('-i, --include', 'print the status line and response headers before the body')
    .option('-L, --location', 'follow redirects')
    .option('--max-redirects <n>', 'most redirects to follow', parseNonNegative, DEFAULT_MAX_REDIRECTS)
    .addOption(
      durationOption(
        '--timeout <duration>',
        'connect, response and body-idle timeout each (e.g. 500ms, 2m)',
        30_000,
      ),
    )
    .addOption(userOption())
    .addOption(netrcOption())
    .addOption(netrcFileOption())
    .option('-A, --user-agent <ua>', 'User-Agent header', DEFAULT_USER_AGENT)
    .addOption(
      new Option('-b, --cookie <name=value>', 'send a cookie (repeatable)')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('-c, --cookie-jar <file>', 'Netscape cookie file: loaded before, saved after')
    .addOption(
      new Option('--resolve <host:port:address>', 'connect to ADDRESS for HOST:PORT (repeatable)')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('--compressed', 'ask for a compressed response (gzip, deflate, br) and decode it')
    .option('-k, --insecure', 'do not verify the TLS certificate')
    .addOption(proxyOption())
    .addOption(noProxyOption())
    .option('-f, --fail', 'exit 1 on HTTP status >= 400 (and print no body)')
    .option('--meta', 'print a JSON summary (status, headers, redirects, bytes, ms) to stderr')
    .option('--trace', 'print the request and response headers (secrets redacted) to stderr')
    .addHelpText(
      'after',
      `
${
  method === 'HEAD'
    ? 'A HEAD request has no body, so -d, --data-file, --form and --json are not offered here; the\nstatus line and headers are always printed.'
    : '--json is the JSON request body (as in curl); use --meta for a machine-readable summary of the\nresponse.'
} Exit status is 0 for any HTTP status unless --fail.

Examples:
${example}`,
    )
    .action(action((url: string, opts: RequestCliOptions) => runRequest(method, url, opts)));
}

/** Add the request commands to the `http` group (next to `serve` from http-serve.ts). */
export function register(group: Command): void {
  for (const m of HTTP_METHODS) addMethod(group, m);
}
