/**
 * `netkit http get|head|post|put|patch|delete URL` (also upper case: `netkit http POST URL`) — a
 * curl-like request command over src/http/request.ts. The body goes to stdout (or atomically to
 * `-o FILE`), `-i` puts the status line and headers first, `--cookie-jar FILE` keeps a login between
 * runs in a Netscape cookie file that curl and Python read too.
 */
import { type Command, Option } from 'commander';
import { usageError } from '../core/errors.js';
import { jsonTerminalSafe } from '../core/terminal-safe.js';
import { parseCookieFile, readCookieFile } from '../http/cookie-file.js';
import type { CookieJar } from '../http/cookie-jar.js';
import { parseFormString, parseMultipartArg } from '../http/multipart.js';
import {
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_USER_AGENT,
  HTTP_METHODS,
  HttpClient,
  type HttpMethod,
  type HttpRequestOptions,
  parseRequestUrl,
} from '../http/request.js';
import { type DataPiece, dataBody, dataPiece, readWhole, withQuery } from './http-data.js';
import {
  basicAuth,
  cacertOption,
  netrcFileOption,
  netrcOption,
  noProxyOption,
  proxyOption,
  readCaCert,
  userOption,
} from './http-options.js';
import { metaHeaders } from './http-output.js';
import {
  addTransferOptions,
  parseReferer,
  planTransfer,
  printWriteOut,
  runTransfer,
  type TransferFlags,
  writeOutInfo,
} from './http-transfer.js';
import {
  action,
  collect,
  durationOption,
  exitCodeFor,
  interruptOnSignals,
  parseNonNegative,
  printTrace,
} from './util.js';

interface RequestCliOptions extends TransferFlags {
  header: string[];
  /** body options: absent on HEAD, which cannot have a body */
  data?: DataPiece[];
  dataRaw?: DataPiece[];
  dataBinary?: DataPiece[];
  get?: boolean;
  dataFile?: string;
  multipart?: string[];
  formString?: string[];
  form?: string[];
  json?: string;
  include?: boolean;
  location?: boolean;
  locationTrusted?: boolean;
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
  request?: string;
  maxTime?: number;
  cacert?: string;
  pathAsIs?: boolean;
  /** '2' with --http2, '1.1' with --http1.1 (the last one given wins, as in curl) */
  httpVersion?: '2' | '1.1';
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
  // only the first word is shown: the rest may be a credential whose colon was forgotten
  const shown = h.trim().split(/\s/)[0]! + (/\S\s+\S/.test(h.trim()) ? ' …' : '');
  if (i <= 0) throw usageError(`bad header ${JSON.stringify(shown)} (expected 'Name: value')`);
  const header: [string, string] = [h.slice(0, i).trim(), h.slice(i + 1).trim()];
  asciiOnly(`header ${header[0]}`, header[1]);
  return header;
}

/**
 * Command-line text is Unicode, a header is bytes: non-ASCII text would not be sent as typed, so
 * it is refused (percent-encoding it, or sending it in the body, says what is meant).
 */
function asciiOnly(what: string, value: string): void {
  if (/[^\x00-\x7f]/.test(value))
    throw usageError(`${what}: non-ASCII text cannot be sent in a header as typed (percent-encode it)`);
}

/** curl assumes http:// for a URL without a scheme (`localhost:8080/x`). */
function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\//i.test(url) ? url : `http://${url}`;
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

/** The request the options describe (URL already given its scheme). */
async function buildRequest(
  method: HttpMethod,
  url: string,
  opts: RequestCliOptions,
): Promise<HttpRequestOptions> {
  const form = opts.form ?? [];
  const multipart = [
    ...(opts.multipart ?? []).map(parseMultipartArg),
    ...(opts.formString ?? []).map(parseFormString),
  ];
  const hasData = [opts.data, opts.dataRaw, opts.dataBinary].some((d) => d !== undefined && d.length > 0);
  const bodies = [
    hasData,
    opts.dataFile !== undefined,
    form.length > 0,
    opts.json !== undefined,
    multipart.length > 0,
  ];
  if (bodies.filter(Boolean).length > 1)
    throw usageError(
      'give only one of -d, --data-file, --form, -F, --json (--data-raw and --data-binary are -d)',
    );
  if (opts.get && bodies.slice(1).some(Boolean))
    throw usageError('-G puts -d, --data-raw and --data-binary into the URL; it takes no other body');
  const headers = opts.header.map(parseHeader);
  asciiOnly('-A', opts.userAgent);
  const hasType = headers.some(([k]) => k.toLowerCase() === 'content-type');

  const request: HttpRequestOptions = {
    url,
    method: opts.request ?? method,
    headers,
    followRedirects: opts.location === true || opts.locationTrusted === true,
    ...(opts.locationTrusted ? { locationTrusted: true } : {}),
    compressed: opts.compressed,
    pathAsIs: opts.pathAsIs,
  };
  if (opts.referer !== undefined) {
    const { referer, autoReferer } = parseReferer(opts.referer);
    if (referer !== undefined) {
      asciiOnly('-e', referer);
      request.referer = referer;
    }
    if (autoReferer) request.autoReferer = true;
  }
  const data = await dataBody(opts.data, opts.dataRaw, opts.dataBinary);
  if (data && opts.get) request.url = withQuery(url, data);
  else if (data) {
    request.body = data;
    if (!hasType) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  } else if (opts.dataFile !== undefined) {
    request.bodyFile = opts.dataFile;
    if (!hasType) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  } else if (form.length) request.form = parseForm(form);
  else if (opts.json !== undefined) request.json = opts.json;
  else if (multipart.length) request.multipart = multipart;
  return request;
}

/**
 * The cookie options, as curl reads them: `-b name=value` is a cookie to send, `-b FILE` (no '=')
 * a cookie file read into the jar (a missing one sends nothing, as in curl; `-` is standard input),
 * `-c FILE` loaded before and saved after. A jar exists when any file is named, so cookies set on
 * a redirect are sent on the next hop.
 */
async function cookieSetup(opts: RequestCliOptions): Promise<{ cookies: string[]; jar?: CookieJar }> {
  const cookies = opts.cookie.filter((c) => c.includes('='));
  const files = opts.cookie.filter((c) => !c.includes('='));
  for (const c of cookies) asciiOnly('-b', c);
  const warn = (file: string, warnings: string[]) => {
    for (const w of warnings) process.stderr.write(`netkit: warning: ${file}: ${w} (line skipped)\n`);
  };
  let jar: CookieJar | undefined;
  if (!opts.cookieJar && files.length === 0) return { cookies };
  // tough-cookie is loaded only when a jar is used (~40 ms of start-up otherwise)
  const { addNetscapeCookies, createCookieJar, loadCookieJar } = await import('../http/cookie-jar.js');
  if (opts.cookieJar) {
    const loaded = await loadCookieJar(opts.cookieJar);
    warn(opts.cookieJar, loaded.warnings);
    jar = loaded.jar;
  }
  for (const file of files) {
    const read =
      file === '-' ? parseCookieFile((await readWhole('-')).toString('latin1')) : await readCookieFile(file);
    warn(file, read.warnings);
    jar ??= createCookieJar();
    await addNetscapeCookies(jar, read.cookies);
  }
  return jar ? { cookies, jar } : { cookies };
}

async function runRequest(method: HttpMethod, givenUrl: string, opts: RequestCliOptions): Promise<void> {
  const url = withScheme(givenUrl);
  parseRequestUrl(url); // a usage error here must not touch the cookie jar
  const request = await buildRequest(method, url, opts);
  const hasBody = ['body', 'bodyFile', 'form', 'json', 'multipart'].some(
    (k) => request[k as keyof HttpRequestOptions] !== undefined,
  );
  const plan = await planTransfer(url, opts, hasBody);
  const auth = await basicAuth(url, opts);
  if (auth) request.auth = auth;
  const ca = await readCaCert(opts.cacert);
  const { cookies, jar } = await cookieSetup(opts);
  if (cookies.length) request.cookies = cookies;
  // the six methods are sent in upper case, any other (-X) as written
  const upper = String(request.method).toUpperCase();
  const sent = (HTTP_METHODS as readonly string[]).includes(upper) ? upper : String(request.method);

  const client = new HttpClient({
    insecure: opts.insecure,
    timeoutMs: opts.timeout,
    ...(opts.connectTimeout !== undefined ? { connectTimeoutMs: opts.connectTimeout } : {}),
    userAgent: opts.userAgent,
    cookieJar: jar,
    maxRedirects: opts.maxRedirects,
    resolve: parseResolve(opts.resolve),
    proxy: opts.proxy,
    noProxy: opts.noproxy,
    ...(ca !== undefined ? { ca } : {}),
    ...(opts.httpVersion === '2' ? { http2: true } : {}),
  });
  if (opts.trace) printTrace(client, 'client');
  let result: Awaited<ReturnType<typeof runTransfer>>;
  const interrupt = interruptOnSignals();
  try {
    result = await runTransfer({
      client,
      request,
      plan,
      method: sent,
      include: opts.include === true || sent === 'HEAD',
      fail: opts.fail === true,
      compressed: opts.compressed === true,
      ...(opts.maxTime !== undefined ? { maxTimeMs: opts.maxTime } : {}),
      signal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
    await client.close().catch(() => {});
    if (jar && opts.cookieJar)
      await (await import('../http/cookie-jar.js')).saveCookieJar(jar, opts.cookieJar);
  }
  // Ctrl-C: the -o temp file is gone; nothing more is said (no --meta, no -w), as curl
  if (interrupt.error) throw interrupt.error;
  const res = result.res;
  if (opts.meta && res && result.error === undefined) {
    // the server's headers and reason phrase: nothing a terminal would act on
    process.stderr.write(
      `${jsonTerminalSafe(
        JSON.stringify({
          method: sent,
          url: res.url,
          status: res.status,
          statusText: res.statusText,
          httpVersion: res.httpVersion,
          headers: metaHeaders(res.headers),
          redirects: res.redirects,
          bytes: result.written,
          ms: Math.round(result.endedAt - res.timings.start),
          ...(plan.file !== undefined ? { output: plan.file } : {}),
          // -r / -C: what was asked for, and whether the body is that part (206) or everything (200)
          ...(result.range !== undefined ? { range: result.range, partial: res.status === 206 } : {}),
          ...(result.resumedAt !== undefined ? { resumedAt: result.resumedAt } : {}),
          ...(result.verdict?.action === 'complete' ? { complete: true } : {}),
          ...(plan.retry.retries > 0 ? { retries: result.retries } : {}),
        }),
      )}\n`,
    );
  }
  if (plan.writeOut !== undefined) {
    const exitcode = result.error === undefined ? 0 : exitCodeFor(result.error);
    await printWriteOut(plan.writeOut, writeOutInfo(url, sent, plan, result, exitcode));
  }
  if (result.error !== undefined) throw result.error;
}

/**
 * Which servers the examples talk to, as in the README: the toy web app of its HTTP client chapter
 * (`demo-app.mjs`, port 8000: it echoes requests and has a cookie login and a `/busy` page) for
 * requests that send data or cookies, and a file server (`http serve`, or the lab's, port 8080)
 * for downloads — the lab's file server answers 405 to a POST.
 */
function exampleServers(examples: string): string {
  const app = examples.includes('127.0.0.1:8000');
  const files = examples.includes('127.0.0.1:8080');
  if (app && files)
    return `The examples use two local servers: 127.0.0.1:8000 is the toy web app of the
README (demo-app.mjs: it echoes requests, has a cookie login), 127.0.0.1:8080
a file server (netkit http serve DIR --port 8080, or netkit lab).

`;
  if (app)
    return `The examples talk to the toy web app of the README on 127.0.0.1:8000
(demo-app.mjs: it echoes requests, has a cookie login).

`;
  if (files)
    return `The example talks to a file server on 127.0.0.1:8080 (netkit http serve DIR
--port 8080, or netkit lab).

`;
  return '';
}

/** The curl transfer flags, shown under every method. */
const CURL_EXAMPLES = `  $ netkit http get -O http://127.0.0.1:8080/files/report.pdf \\
      --output-dir dl --create-dirs
  $ netkit http get -C - -o big.iso http://127.0.0.1:8080/big.iso   resume
  $ netkit http get -r 0-499 -o head.bin http://127.0.0.1:8080/big.iso
  $ netkit http get -s -o /dev/null -w '%{http_code} %{time_total}\\n' \\
      https://example.org/
  $ netkit http get --retry 5 --retry-max-time 2m -L http://127.0.0.1:8000/busy
  $ netkit http get -D headers.txt --limit-rate 100K \\
      -O http://127.0.0.1:8080/big.iso`;

function addMethod(group: Command, method: HttpMethod): void {
  const lower = method.toLowerCase();
  const example = {
    GET: `  $ netkit http get https://example.org/ -i
  $ netkit http GET http://127.0.0.1:8080/big.iso -o big.iso -L
  $ netkit http get http://127.0.0.1:8000/home --cookie-jar jar.txt --trace
  $ netkit http get -x http://proxy.lan:3128 https://example.org/   via a proxy
  $ netkit http get --http2 -i https://example.org/      HTTP/2 if offered`,
    HEAD: `  $ netkit http head http://127.0.0.1:8080/file.bin
  HTTP/1.1 200 OK
  Content-Length: 1048576
  …`,
    POST: `  $ netkit http post http://127.0.0.1:8000/login --form user=bob \\
      --form password=secret -c jar.txt -L      log in, save the cookie
  $ netkit http get http://127.0.0.1:8000/home -c jar.txt    …and use it
  $ netkit http POST http://127.0.0.1:8000/api --json '{"name":"bob"}'
  $ netkit http post http://127.0.0.1:8000/upload --data-file report.csv \\
      -H 'Content-Type: text/csv'
  $ netkit http post http://127.0.0.1:8000/upload \\
      -F 'file=@report.csv;type=text/csv' -F note=monthly
  $ netkit http post http://127.0.0.1:8000/api --json '{"n":1}' --retry 3 \\
      -w '%{http_code}\\n'            retried on 429/503, as curl does`,
    PUT: `  $ netkit http put http://127.0.0.1:8000/items/1 --json '{"done":true}' \\
      -u bob:secret`,
    PATCH: `  $ netkit http patch http://127.0.0.1:8000/items/1 -d 'done=1' --fail`,
    DELETE: `  $ netkit http delete http://127.0.0.1:8000/items/1 -u bob -i`,
  }[method];
  const examples = method === 'GET' ? `${example}\n${CURL_EXAMPLES}` : example;
  const cmd = group
    .command(lower)
    .alias(method)
    .description(DESCRIPTIONS[method])
    .argument('<url>', 'http:// or https:// URL to request (http:// when none is given)')
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
        new Option(
          '-d, --data <data>',
          'request body (repeatable, joined with "&"); @FILE reads a file without its CR/LF, @- stdin',
        ).argParser(dataPiece('data')),
      )
      .addOption(
        new Option('--data-raw <data>', 'like -d, with @ taken literally').argParser(dataPiece('raw')),
      )
      .addOption(
        new Option('--data-binary <data>', 'like -d; @FILE is sent byte for byte').argParser(
          dataPiece('binary'),
        ),
      )
      .option('-G, --get', 'put the -d data in the URL query instead of the body')
      .option('--data-file <file>', "request body streamed from a file ('-' = stdin)")
      .addOption(
        new Option('--form <name=value>', 'urlencoded form field (repeatable)')
          .argParser(collect)
          .default([], 'none'),
      )
      .addOption(
        new Option(
          '-F, --multipart <part>',
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
    .option('-X, --request <method>', 'send this method instead (any token, as in curl)')
    .option(
      '-o, --output <file>',
      "write the body to FILE (atomically) instead of stdout; '-' = stdout, binary too",
    )
    .option(
      '-i, --include',
      'print the status line and headers before the body (1xx responses too) and trailers after it; with -o, in the file (as curl)',
    )
    .option('-L, --location', 'follow redirects (301, 302, 303, 307, 308)')
    .option(
      '--location-trusted',
      'like -L, and send -u, -b and the Authorization and Cookie headers to the other hosts redirected to (as curl)',
    )
    .option('--max-redirects <n>', 'most redirects to follow', parseNonNegative, DEFAULT_MAX_REDIRECTS)
    .addOption(
      durationOption(
        '--timeout <duration>',
        'connect, response and body-idle timeout each (e.g. 500ms, 2m)',
        30_000,
      ),
    )
    .addOption(durationOption('-m, --max-time <duration>', 'time limit for the whole transfer (e.g. 10s)'))
    .addOption(userOption())
    .addOption(netrcOption())
    .addOption(netrcFileOption())
    .option('-A, --user-agent <ua>', 'User-Agent header', DEFAULT_USER_AGENT)
    .addOption(
      new Option(
        '-b, --cookie <name=value|file>',
        'send a cookie, or the cookies of a cookie file (repeatable)',
      )
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
    .addOption(cacertOption())
    .option('--path-as-is', 'send the URL path as written (/../ and %2e kept)')
    .option('--http2', 'offer HTTP/2 on https (ALPN), HTTP/1.1 if the server declines; http:// stays 1.1')
    .option('--http1.1', 'use HTTP/1.1 only (the default)')
    .addOption(proxyOption())
    .addOption(noProxyOption())
    .option('-f, --fail', 'exit 1 on HTTP status >= 400 (and print no body)')
    .option('--meta', 'print a JSON summary (status, headers, redirects, bytes, ms) to stderr')
    .option('--trace', 'print the request and response headers (secrets redacted) to stderr');
  addTransferOptions(cmd);
  cmd
    .addHelpText(
      'after',
      `
${
  method === 'HEAD'
    ? `A HEAD request has no body, so -d, --data-file, --form and --json are not
offered here; the status line and headers are always printed. Exit status is 0
for any HTTP status unless --fail.`
    : `--json is the JSON request body (as in curl); use --meta for a machine-readable
summary of the response. Exit status is 0 for any HTTP status unless --fail.`
}
-s hides progress, warnings and (without -S) the error line of a failed
transfer; usage errors (exit 2) are always printed.

${exampleServers(examples)}Examples:
${examples}`,
    )
    .action(
      action(async (url: string, opts: RequestCliOptions) => {
        try {
          await runRequest(method, url, opts);
        } catch (err) {
          // -s without -S: a failed transfer says so by its exit status alone, as in curl
          if (opts.silent && !opts.showError && exitCodeFor(err) === 1) {
            process.exitCode = 1;
            return;
          }
          throw err;
        }
      }),
    );
  // --http2 and --http1.1 set one choice, the last given winning (as in curl)
  cmd.on('option:http2', () => cmd.setOptionValue('httpVersion', '2'));
  cmd.on('option:http1.1', () => cmd.setOptionValue('httpVersion', '1.1'));
}

/** Add the request commands to the `http` group (next to `serve` from http-serve.ts). */
export function register(group: Command): void {
  for (const m of HTTP_METHODS) addMethod(group, m);
}
