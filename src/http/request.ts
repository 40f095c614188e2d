/**
 * HTTP requests on undici 7 — the library behind `netkit http METHOD URL`.
 *
 * undici does the wire work (HTTP/1.1, keep-alive, per-phase timeouts); this module adds what curl
 * users expect on top: bodies from text/bytes/a file/a form/JSON, basic auth, a `netkit/VERSION`
 * user agent, a tough-cookie jar applied on every hop, redirects followed by hand (so each hop is
 * traced, counted and checked): 303 → GET, 301/302 after POST → GET (like curl and browsers), 307/308
 * keep the method and body, credentials (Authorization, user-given Cookie headers) are dropped when
 * a redirect leaves the original origin (unless `locationTrusted`), a loop ends with NETKIT_PROTOCOL
 * after `maxRedirects`. Only 301, 302, 303, 307 and 308 are followed: a 300, 304 or any other 3xx is
 * the response, whatever its Location says (as browsers and undici; curl follows those too).
 * With `http2`, HTTP/2 is offered by ALPN on https connections (HTTP/1.1 when the server does not
 * choose it; plain http:// stays HTTP/1.1: no h2c), as curl --http2 does; undici's h2 code comes
 * with its Client, so offering it loads nothing more. Each response reports the version it came in.
 * TLS certificates are verified unless `insecure`. Every exchange is traced (`'trace'` events) with
 * Authorization and cookie values redacted; over HTTP/1.1 a request's head as undici writes it on
 * the socket (request-wire.ts). Header values are bytes (Latin-1 strings, as undici has them): see
 * latin1.ts.
 */

import type { LookupAddress, LookupOptions } from 'node:dns';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { errorMessage, NetkitError } from '../core/errors.js';
import { TypedEventEmitter } from '../core/events.js';
import { tap } from '../core/size-limit.js';
import { type CaCertificates, defaultTrust } from '../core/tls-trust.js';
import { nextConnId, redactUrl, type TraceEvents, traceEvent } from '../core/trace.js';
import { VERSION } from '../version.js';
import { ACCEPT_ENCODING, decodeBody } from './content-encoding.js';
import type { CookieJar } from './cookie-jar.js';
import { bodyProgress, httpError, requestAborted, zoneNotSupported } from './http-error.js';
import { type InterimResponse, type Observed, observing } from './interim.js';
import { byteStringToText, percentEncodeHighBytes } from './latin1.js';
import { type MultipartField, partSource, prepareMultipart } from './multipart.js';
import { pausedEndConnector } from './paused-end.js';
import { type ProxyRoute, proxyDispatcher, proxyFor, proxyRoute, redactProxy } from './proxy.js';
import {
  checkUserHeaders,
  type HeaderList,
  hasHeader,
  redactHeader,
  redactLocation,
  removeHeaders,
} from './request-headers.js';
import {
  addHop,
  type ConnectionInfo,
  type ConnectionRecord,
  connectionFor,
  connectionInfo,
  emptyTimings,
  type HttpTimings,
  timingConnector,
} from './request-timing.js';
import { headLines, wireConnector } from './request-wire.js';
import { takeResponseVersion, versionConnector } from './response-version.js';
import { DEFAULT_MAX_REDIRECTS, MAX_RESPONSE_HEADER_BYTES, undiciParts } from './undici-parts.js';
import { type UrlencodeQuery, urlencode } from './url-query.js';
import { basicAuthorization, CREDENTIAL_HEADERS, takeUserinfo } from './userinfo.js';

export { httpError } from './http-error.js';
export type { InterimResponse } from './interim.js';
export { redactHeader } from './request-headers.js';
export type { ConnectionInfo, HttpTimings } from './request-timing.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const DEFAULT_USER_AGENT = `netkit/${VERSION}`;
export const DEFAULT_TIMEOUT_MS = 30_000;
export { DEFAULT_MAX_REDIRECTS };
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface HttpClientOptions {
  /** Skip TLS certificate verification (curl -k). Default false. */
  insecure?: boolean;
  /** Connect, response-headers and body-idle timeout, each (ms). Default 30 s. */
  timeoutMs?: number;
  /** Connect timeout alone (curl --connect-timeout), TLS handshake included; default `timeoutMs`. */
  connectTimeoutMs?: number;
  /** Default `netkit/VERSION`. */
  userAgent?: string;
  /** Cookies are sent from and stored into this jar on every hop. */
  cookieJar?: CookieJar;
  /** Follow 3xx redirects. Default false (like curl without -L). */
  followRedirects?: boolean;
  /** Most redirects followed before failing. Default 20. */
  maxRedirects?: number;
  /** `{"host:port": "address"}`: connect there instead of resolving the name (curl --resolve). */
  resolve?: Record<string, string>;
  /** Use this undici dispatcher instead of the client's own Agent (then `insecure`/`resolve`/`proxy` do nothing). */
  dispatcher?: Dispatcher;
  /** Proxy for every URL (curl --proxy); default from http_proxy / https_proxy / all_proxy; '' = none. */
  proxy?: string;
  /** Hosts reached without the proxy (curl --noproxy); default from no_proxy / NO_PROXY. */
  noProxy?: string;
  /** Trust only these CA certificates (PEM), instead of the system's (curl --cacert). */
  ca?: CaCertificates;
  /**
   * Offer HTTP/2 (ALPN `h2`) on https connections, falling back to HTTP/1.1 when the server does
   * not take it (curl --http2), also at the end of a proxy's CONNECT tunnel. Not over http://
   * (no h2c). Default false.
   */
  http2?: boolean;
}

export interface HttpRequestOptions {
  /** http:// or https:// (user info, `http://u:p@h/`, becomes Basic authentication) */
  url: string;
  /**
   * Default GET (POST when a body is given). The six of {@link HTTP_METHODS} in any case; any other
   * token is sent as written (curl -X), except CONNECT.
   */
  method?: HttpMethod | Lowercase<HttpMethod> | (string & {});
  /**
   * Extra headers; they override the defaults (User-Agent, Accept, Content-Type); '' removes one.
   * Values are byte strings (Latin-1, as undici sends them).
   */
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>;
  /** Raw body. */
  body?: string | Uint8Array;
  /**
   * Body streamed from this file (re-read if a 307/308 redirect needs it again); `-` (standard
   * input), pipes and devices are read whole first.
   */
  bodyFile?: string;
  /** Body `application/x-www-form-urlencoded` with {@link urlencode}. */
  form?: UrlencodeQuery;
  /** Body `application/json`: a string is sent as is (after checking it parses), anything else stringified. */
  json?: unknown;
  /** Body `multipart/form-data` (curl -F): text fields and file uploads. */
  multipart?: readonly MultipartField[];
  /** Basic authentication. User info in the URL (`http://u:p@h/`) is used when this is absent. */
  auth?: { username: string; password: string };
  /** Extra cookies, `name=value` each (curl -b 'k=v'), sent to the original origin only. */
  cookies?: readonly string[];
  /** Follow 3xx redirects for this request; default the client's `followRedirects` (false). */
  followRedirects?: boolean;
  /**
   * Send the credentials (`auth`, `Authorization` and `Cookie` headers, `cookies`) on redirects to
   * other origins too, as curl --location-trusted does; by default they go to the original origin
   * only.
   */
  locationTrusted?: boolean;
  /** Most redirects followed before failing (NETKIT_PROTOCOL); default the client's (20). */
  maxRedirects?: number;
  /** Connect, response-headers and body-idle timeout, each (ms); default the client's (30 s). */
  timeoutMs?: number;
  /**
   * Abort the request: it rejects with a NETKIT_IO NetkitError whose `cause` is the signal's reason,
   * whether it was waiting for the response or (`httpRequest`) reading its body. With
   * {@link HttpClient}, a streamed body the signal aborts later fails with the reason itself.
   */
  signal?: AbortSignal;
  /**
   * Called as a streamed request body (`bodyFile`, a `multipart` form with files) is handed to the
   * connection: bytes so far and the body's length. It starts again from 0 when a 307/308 redirect
   * sends the body again. In-memory bodies are not reported.
   */
  onUploadProgress?: (sent: number, total: number) => void;
  /**
   * Ask for a compressed response (`Accept-Encoding: gzip, deflate, br`, unless `headers` sets
   * one), like curl --compressed. `httpRequest` then decodes the body; with {@link HttpClient},
   * read it through {@link decodeBody}.
   */
  compressed?: boolean;
  /** Send the URL's path as written, `/../` and `%2e` included (curl --path-as-is); first hop only. */
  pathAsIs?: boolean;
  /** `Referer` header for the first hop (curl -e URL); a `Referer` in `headers` wins. */
  referer?: string;
  /**
   * On each redirect followed, send the URL redirected from as `Referer` (curl -e ';auto'); its
   * user info and fragment are never part of it.
   */
  autoReferer?: boolean;
}

export interface RedirectHop {
  url: string;
  status: number;
  location: string;
}

export interface HttpResponse {
  /** The URL of this (final) response. */
  url: string;
  status: number;
  /** The server's reason phrase ('' when it sent none). */
  statusText: string;
  /** `2` over HTTP/2, else as the server's status line says (`1.0`, `1.1`); `1.1` when unknown (an http:// request to a proxy, a caller's dispatcher). */
  httpVersion: string;
  /** Lower-case names; repeated headers (Set-Cookie) as arrays. Values are Latin-1 byte strings. */
  headers: Record<string, string | string[]>;
  /** Names as the server sent them, in order. */
  rawHeaders: Array<[string, string]>;
  /** The 1xx responses before this one (103 Early Hints …), as undici exposes them (interim.ts). */
  interim: InterimResponse[];
  /**
   * Trailer fields after a chunked (or HTTP/2) body, names as sent: empty until the body has
   * been read to its end, filled in then.
   */
  trailers: Array<[string, string]>;
  /** The redirects followed to get here, oldest first. */
  redirects: RedirectHop[];
  /**
   * The response headers of every hop before this one (for curl -i -L style output), a password
   * in a Location hidden.
   */
  hops: Array<{
    url: string;
    status: number;
    statusText: string;
    httpVersion: string;
    rawHeaders: Array<[string, string]>;
    interim: InterimResponse[];
  }>;
  /** The body (undici's BodyReadable: a Readable with text()/json()/arrayBuffer()/dump()), to be consumed. */
  body: Dispatcher.ResponseData['body'];
  /** When each phase ended, summed over the hops as curl does (its `-w '%{time_connect}'` …). */
  timings: HttpTimings;
  /** The connection the response came on; undefined through a proxy or a caller's dispatcher. */
  connection?: ConnectionInfo;
  /** Connections opened for this request, its redirects included (curl's `num_connects`). */
  connects: number;
  /** Request body bytes sent, every hop included (curl's `size_upload`). */
  uploadBytes: number;
  /** The `Referer` sent with the last hop (the one of this response), if any. */
  referer?: string;
}

/**
 * cookie-jar.ts, loaded when a request has a jar: tough-cookie (with its public-suffix list) costs
 * ~40 ms of start-up that a request without cookies should not pay.
 */
const cookieJarModule = () => import('./cookie-jar.js');

/** Check an http(s) URL and split off user info (returned percent-decoded). */
export function parseRequestUrl(url: string): { url: URL; auth?: { username: string; password: string } } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const zone = zoneNotSupported(url, 'name the host and map it: --resolve NAME:PORT:fe80::1%eth0');
    throw new NetkitError('NETKIT_USAGE', `invalid URL: ${JSON.stringify(redactUrl(url))}${zone}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new NetkitError(
      'NETKIT_USAGE',
      `unsupported URL scheme "${u.protocol.replace(/:$/, '')}" (http and https only): ${redactUrl(url)}`,
    );
  const auth = takeUserinfo(u);
  u.hash = '';
  return auth ? { url: u, auth } : { url: u };
}

/** A header as the trace shows it: secrets redacted, bytes read as text. */
function shownHeader(name: string, value: string): string {
  const shown = name.toLowerCase() === 'location' ? redactLocation(value) : redactHeader(name, value);
  return byteStringToText(shown);
}

/** The six methods in upper case; any other token as written (curl -X sends it so). */
function requestMethod(method: string): string {
  const upper = method.toUpperCase();
  if ((HTTP_METHODS as readonly string[]).includes(upper)) return upper;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method))
    throw new NetkitError('NETKIT_USAGE', `bad method ${JSON.stringify(method)}`);
  if (upper === 'CONNECT')
    throw new NetkitError('NETKIT_USAGE', 'CONNECT is not supported (use -x for a proxy)');
  return method;
}

/**
 * The path and query as written in `url` (curl --path-as-is): dot segments and their encodings
 * kept; only what cannot go on the request line (spaces, controls, non-ASCII) percent-encoded.
 */
function pathAsWritten(url: string): string {
  const written = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(url.trim())?.[1] ?? '';
  const target = written.startsWith('/') ? written : `/${written}`;
  return target.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

interface PreparedBody {
  make: () => Promise<string | Uint8Array | Readable | undefined>;
  contentType?: string;
  /** a multipart body's boundary, which a caller's own Content-Type must carry */
  boundary?: string;
  length: number;
  describe: string;
}

/** A streamed body whose chunks are reported to `onProgress` as the connection takes them. */
function countedBody(
  made: string | Uint8Array | Readable | undefined,
  total: number,
  onProgress: HttpRequestOptions['onUploadProgress'],
): string | Uint8Array | Readable | undefined {
  if (!onProgress || made === undefined || typeof made === 'string' || made instanceof Uint8Array)
    return made;
  let sent = 0;
  const counted = tap(made, (n) => {
    sent += n;
    onProgress(sent, total);
  });
  return Readable.from(counted, { objectMode: false });
}

async function prepareBody(o: HttpRequestOptions): Promise<PreparedBody | undefined> {
  const given = [
    o.body !== undefined,
    o.bodyFile !== undefined,
    o.form !== undefined,
    o.json !== undefined,
    o.multipart !== undefined,
  ];
  if (given.filter(Boolean).length > 1)
    throw new NetkitError('NETKIT_USAGE', 'give only one of body, bodyFile, form, json, multipart');
  if (o.multipart !== undefined) {
    const form = await prepareMultipart(o.multipart);
    const files = o.multipart.filter((f) => f.file !== undefined).length;
    return {
      make: async () => form.body(),
      contentType: form.contentType,
      boundary: form.boundary,
      length: form.length,
      describe: `multipart form, ${o.multipart.length - files} field(s) and ${files} file(s), ${form.length} bytes`,
    };
  }
  if (o.body !== undefined) {
    const body = o.body;
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    return { make: async () => body, length, describe: `${length} bytes` };
  }
  if (o.bodyFile !== undefined) {
    // a regular file is streamed; standard input, pipes and devices are read whole (as -F @- is)
    const source = await partSource(o.bodyFile);
    const from = o.bodyFile === '-' ? 'standard input' : o.bodyFile;
    if ('value' in source) {
      const value = source.value;
      return {
        make: async () => value,
        length: value.length,
        describe: `${value.length} bytes from ${from}`,
      };
    }
    const { file, size } = source;
    return { make: async () => createReadStream(file), length: size, describe: `${size} bytes from ${from}` };
  }
  if (o.form !== undefined) {
    const text = urlencode(o.form);
    return {
      make: async () => text,
      contentType: 'application/x-www-form-urlencoded',
      length: Buffer.byteLength(text),
      describe: `form, ${Buffer.byteLength(text)} bytes`,
    };
  }
  if (o.json !== undefined) {
    let text: string;
    if (typeof o.json === 'string') {
      try {
        JSON.parse(o.json);
      } catch (err) {
        throw new NetkitError('NETKIT_USAGE', `--json body is not valid JSON: ${errorMessage(err)}`);
      }
      text = o.json;
    } else text = JSON.stringify(o.json);
    return {
      make: async () => text,
      contentType: 'application/json',
      length: Buffer.byteLength(text),
      describe: `JSON, ${Buffer.byteLength(text)} bytes`,
    };
  }
  return undefined;
}

/**
 * An HTTP client: one undici Agent (connection pool) shared by its requests, a cookie jar, trace
 * events (`'trace'`, service `http`). Call {@link close} when done.
 */
export class HttpClient extends TypedEventEmitter<TraceEvents> {
  readonly options: HttpClientOptions;
  private dispatcher: Promise<Dispatcher> | undefined;
  private proxyRoute: ProxyRoute | undefined | null = null;
  private readonly conn = nextConnId();
  /** The protocol of each origin's newest direct connection: `'2'` or `'1.1'` (response-version.ts). */
  private readonly protocols = new Map<string, string>();
  /**
   * The trace of the request being sent. On our own HTTP/1.1 connections its head is traced as
   * undici writes it (request-wire.ts), and only the description of its body waits here for the
   * request to be done; over HTTP/2, or through a caller's dispatcher, the head is rendered from
   * the headers given, once the connection says which protocol it goes out in (with `http2`).
   */
  private pendingTrace: { origin: string; requestLine: string; rest: TraceLine[] } | undefined;
  /** the pending request's head was written (traced from the wire) */
  private headWritten = false;
  /** Every connection our connector made, for timings and addresses (request-timing.ts). */
  private readonly connections: ConnectionRecord[] = [];

  constructor(options: HttpClientOptions = {}) {
    super();
    this.options = options;
    if (options.dispatcher) this.dispatcher = Promise.resolve(options.dispatcher);
  }

  /** Our own Agent, created on first use (undici is imported lazily: `http serve` never needs it). */
  private getDispatcher(): Promise<Dispatcher> {
    this.dispatcher ??= Promise.resolve().then(() => {
      const { Agent } = undiciParts();
      const options = this.options;
      const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const resolve = options.resolve;
      const connect = {
        rejectUnauthorized: !options.insecure,
        timeout: options.connectTimeoutMs ?? timeout,
        ...(resolve && Object.keys(resolve).length ? { lookup: resolveLookup(resolve) } : {}),
        ...defaultTrust(options.ca),
        ...(options.http2 ? { allowH2: true } : {}),
      };
      const agentOptions = {
        connect,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
        ...(options.http2 ? { allowH2: true } : {}),
      };
      const route = this.route();
      // direct connections are watched for the response's HTTP version (response-version.ts)
      const dispatcher = route
        ? proxyDispatcher(
            route,
            agentOptions,
            {
              insecure: options.insecure,
              ...(options.ca !== undefined ? { ca: options.ca } : {}),
            },
            // every connection's requests as written; at the end of a CONNECT tunnel also the
            // ALPN choice and response versions
            (connector, kind) => {
              const watched = wireConnector(connector, this.onWireHead, this.tracing);
              return kind === 'tunnel' ? versionConnector(watched, this.protocols) : watched;
            },
          )
        : new Agent({
            ...agentOptions,
            connect: versionConnector(
              pausedEndConnector(
                wireConnector(
                  timingConnector(undiciParts().buildConnector(connect), (record) => this.record(record)),
                  this.onWireHead,
                  this.tracing,
                ),
              ),
              this.protocols,
            ),
          });
      const agent = 'direct' in dispatcher ? dispatcher.direct : dispatcher;
      agent.on('connect', (origin) => {
        this.trace('connect', '', origin.host);
        if (this.pendingTrace?.origin === origin.origin) this.flushTrace();
      });
      agent.on('disconnect', (origin) => this.trace('disconnect', origin.host));
      return dispatcher;
    });
    return this.dispatcher;
  }

  /**
   * Bytes written so far on the connections this client made (requests, bodies included; over TLS
   * the bytes before encryption). Not counted: connections of a proxy or a caller's dispatcher,
   * and connections older than the newest 64. Take the difference around a request for its size.
   */
  bytesWritten(): number {
    return this.connections.reduce((sum, c) => sum + (c.socket?.bytesWritten ?? 0), 0);
  }

  /** Note a new connection, keeping the newest few (a long-lived client makes many). */
  private record(record: ConnectionRecord): void {
    this.connections.push(record);
    if (this.connections.length > 64) this.connections.splice(0, this.connections.length - 64);
  }

  /** Proxies from the options and the environment, resolved once (a bad proxy URL throws here). */
  private route(): ProxyRoute | undefined {
    if (this.options.dispatcher) return undefined;
    if (this.proxyRoute === null) this.proxyRoute = proxyRoute(this.options);
    return this.proxyRoute;
  }

  /** Someone listens to this client's trace: only then are request heads taken from the wire. */
  private readonly tracing = (): boolean => this.listenerCount('trace') > 0;

  /** A request head as undici wrote it on one of our HTTP/1.1 connections (request-wire.ts). */
  private readonly onWireHead = (head: string): void => {
    const [requestLine, ...fields] = headLines(head);
    // a CONNECT opens a proxy's tunnel: the request itself follows inside it
    if (!requestLine?.startsWith('CONNECT ')) this.headWritten = true;
    this.trace('out', requestLine ?? '');
    for (const field of fields) {
      const colon = field.indexOf(':');
      const name = field.slice(0, colon);
      this.trace('out', `${name}: ${shownHeader(name, field.slice(colon + 1).replace(/^ /, ''))}`);
    }
  };

  /**
   * The pending request's trace: on our own HTTP/1.1 connections only the description of its body
   * (its head was traced as written), once `done`, and only if the head went out; otherwise the
   * rendered request, held back until the connection's protocol is known, with that protocol's name.
   */
  private flushTrace(done = false): void {
    const pending = this.pendingTrace;
    if (!pending) return;
    const protocol = this.protocols.get(pending.origin) ?? '1.1';
    if (!this.options.dispatcher && protocol !== '2') {
      if (!done) return;
      this.pendingTrace = undefined;
      if (!this.headWritten) return;
      for (const [kind, text] of pending.rest) if (kind === 'info') this.trace(kind, text);
      return;
    }
    this.pendingTrace = undefined;
    this.trace('out', `${pending.requestLine} HTTP/${protocol}`);
    for (const [kind, text] of pending.rest) this.trace(kind, text);
  }

  private trace(
    kind: 'connect' | 'disconnect' | 'in' | 'out' | 'error' | 'info',
    text: string,
    peer?: string,
  ): void {
    traceEvent(this, 'http', this.conn, kind, text, peer);
  }

  /** Send a request; follows redirects if asked. The caller must consume or dump `response.body`. */
  async request(o: HttpRequestOptions): Promise<HttpResponse> {
    const first = parseRequestUrl(o.url);
    let method = requestMethod(o.method ?? (hasBody(o) ? 'POST' : 'GET'));
    let body = await prepareBody(o);
    if (body && method === 'HEAD') throw new NetkitError('NETKIT_USAGE', 'a HEAD request cannot have a body');
    const follow = o.followRedirects ?? this.options.followRedirects ?? false;
    const maxRedirects = o.maxRedirects ?? this.options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    const timeout = o.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const jar = this.options.cookieJar;
    const auth = o.auth ?? first.auth;
    const origin = first.url.origin;

    const userAgent = this.options.userAgent ?? DEFAULT_USER_AGENT;
    const base: HeaderList = [
      // like curl, an empty user agent (-A '') sends none
      ...(userAgent === '' ? [] : [['User-Agent', userAgent] as [string, string]]),
      ['Accept', o.json !== undefined ? 'application/json' : '*/*'],
      ...(o.compressed ? [['Accept-Encoding', ACCEPT_ENCODING] as [string, string]] : []),
    ];
    const user: HeaderList = Array.isArray(o.headers)
      ? (o.headers as ReadonlyArray<readonly [string, string]>).map(([k, v]) => [k, v] as [string, string])
      : Object.entries((o.headers ?? {}) as Record<string, string>);
    const extras: HeaderList = [
      ['User-Agent', userAgent],
      ...(o.cookies ?? []).map((c) => ['Cookie', c] as [string, string]),
      ...(o.referer ? [['Referer', o.referer] as [string, string]] : []),
    ];
    checkUserHeaders(user, body?.length ?? 0);
    checkUserHeaders(extras, 0);
    // Like curl, a user header with an empty value removes that header instead of sending it empty,
    // the body's own Content-Type included.
    const removed = new Set(user.filter(([, v]) => v === '').map(([k]) => k.toLowerCase()));
    let headers: HeaderList = [
      ...removeHeaders(base, ...user.map(([k]) => k)),
      ...user.filter(([, v]) => v !== ''),
    ];

    let url = first.url;
    const redirects: RedirectHop[] = [];
    const hops: HttpResponse['hops'] = [];
    const timings = emptyTimings(performance.now());
    let uploadBytes = 0;
    let referer = o.referer || undefined;
    for (;;) {
      // where the credentials may go: the original origin, or with locationTrusted every hop
      const trusted = url.origin === origin || o.locationTrusted === true;
      let sendHeaders: HeaderList = trusted ? [...headers] : removeHeaders(headers, ...CREDENTIAL_HEADERS);
      // like curl, a Host of the caller's is for the host it was given for, not for another one
      if (url.hostname !== first.url.hostname) sendHeaders = removeHeaders(sendHeaders, 'host');
      if (trusted && auth && !hasHeader(sendHeaders, 'authorization'))
        sendHeaders.push(['Authorization', basicAuthorization(auth)]);
      const cookieParts: string[] = [];
      const userCookie = sendHeaders.find(([k]) => k.toLowerCase() === 'cookie');
      if (userCookie) cookieParts.push(userCookie[1]);
      if (trusted && o.cookies) cookieParts.push(...o.cookies);
      if (jar) {
        const { cookieHeaderFor } = await cookieJarModule();
        const fromJar = await cookieHeaderFor(jar, url.href);
        if (fromJar) cookieParts.push(fromJar);
      }
      sendHeaders = removeHeaders(sendHeaders, 'cookie');
      if (cookieParts.length) sendHeaders.push(['Cookie', cookieParts.join('; ')]);
      // a Referer of the caller's own (-H) wins over -e, on every hop
      const sentReferer = hasHeader(sendHeaders, 'referer') || removed.has('referer') ? undefined : referer;
      if (sentReferer !== undefined) sendHeaders.push(['Referer', sentReferer]);
      if (body) {
        if (body.boundary && hasHeader(sendHeaders, 'content-type')) {
          // a multipart type of the caller's own (-H 'Content-Type: multipart/related'): it still
          // needs the boundary the body was written with, as curl appends it
          sendHeaders = sendHeaders.map(([k, v]) =>
            k.toLowerCase() === 'content-type' ? [k, `${v}; boundary=${body!.boundary}`] : [k, v],
          );
        } else if (
          body.contentType &&
          !hasHeader(sendHeaders, 'content-type') &&
          !removed.has('content-type')
        )
          sendHeaders.push(['Content-Type', body.contentType]);
        if (!hasHeader(sendHeaders, 'content-length') && !removed.has('content-length'))
          sendHeaders.push(['Content-Length', String(body.length)]);
      }

      const path = o.pathAsIs && url === first.url ? pathAsWritten(o.url) : `${url.pathname}${url.search}`;
      const proxy = proxyFor(this.route(), url);
      if (proxy) this.trace('info', `via proxy ${redactProxy(proxy)}`);
      if (proxy && hasHeader(sendHeaders, 'proxy-authorization'))
        throw new NetkitError(
          'NETKIT_USAGE',
          'give the proxy credentials in the proxy URL (-x http://USER:PASSWORD@HOST:PORT), not as a Proxy-Authorization header',
        );
      const rest: TraceLine[] = [];
      if (!hasHeader(sendHeaders, 'host')) rest.push(['out', `Host: ${url.host}`]);
      for (const [k, v] of sendHeaders) rest.push(['out', `${k}: ${shownHeader(k, v)}`]);
      if (body) rest.push(['info', `request body: ${body.describe}`]);
      // with http2 the request line names the protocol of a connection not made yet: it is traced
      // when the connection is (undici's 'connect' comes before the request is written)
      const h2Possible = this.options.http2 && url.protocol === 'https:' && !this.options.dispatcher;
      if (this.options.http2 && url.protocol !== 'https:')
        this.trace('info', `HTTP/2 is offered on https connections only (no h2c): HTTP/1.1 to ${url.origin}`);
      const known = h2Possible ? this.protocols.get(url.origin) : '1.1';
      this.pendingTrace = { origin: url.origin, requestLine: `${method} ${path}`, rest };
      this.headWritten = false;
      if (known) this.flushTrace();

      let res: Dispatcher.ResponseData;
      let httpVersion: string;
      const seen: Observed = { interim: [], trailers: [] };
      let hopStart = performance.now();
      try {
        const dispatcher = await this.getDispatcher();
        // the phases are the network's: loading undici for the first request is not one of them
        hopStart = performance.now();
        res = await observing(dispatcher, seen).request({
          origin: url.origin,
          path,
          method: method as Dispatcher.HttpMethod,
          headers: sendHeaders.flat(),
          body: body ? countedBody(await body.make(), body.length, o.onUploadProgress) : null,
          headersTimeout: timeout,
          bodyTimeout: timeout,
          responseHeaders: 'raw',
          signal: o.signal ?? null,
        });
        this.flushTrace(true);
        httpVersion = takeResponseVersion();
        // an HTTP/2 connection has no status line to read the version from: its ALPN says it
        if (h2Possible && this.protocols.get(url.origin) === '2') httpVersion = '2';
      } catch (err) {
        this.flushTrace(true);
        takeResponseVersion(); // a status line read before the failure is nobody's now
        const e = o.signal?.aborted
          ? requestAborted(url.href, o.signal.reason)
          : httpError(err, url.href, proxy);
        this.trace('error', e.message);
        throw e;
      }
      uploadBytes += body?.length ?? 0;
      const used = connectionFor(this.connections, url.origin, hopStart);
      addHop(timings, hopStart, performance.now(), used, url.protocol === 'https:');
      const raw = res.headers as unknown as string[];
      const rawHeaders: HeaderList = [];
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = String(raw[i]);
        // HTTP/2 pseudo-headers are not headers: undici drops :status, this drops any other
        if (!name.startsWith(':')) rawHeaders.push([name, String(raw[i + 1])]);
      }
      const statusText = res.statusText ?? '';
      for (const info of seen.interim) {
        this.trace('in', `HTTP/${httpVersion} ${info.status} ${info.statusText}`.trimEnd());
        for (const [k, v] of info.rawHeaders) this.trace('in', `${k}: ${shownHeader(k, v)}`);
      }
      this.trace('in', `HTTP/${httpVersion} ${res.statusCode} ${statusText}`.trimEnd());
      for (const [k, v] of rawHeaders) this.trace('in', `${k}: ${shownHeader(k, v)}`);

      if (jar) {
        const setCookies = rawHeaders.filter(([k]) => k.toLowerCase() === 'set-cookie').map(([, v]) => v);
        if (setCookies.length) {
          const { storeSetCookies } = await cookieJarModule();
          const { stored, rejected } = await storeSetCookies(jar, setCookies, url.href);
          for (const s of stored) this.trace('info', `cookie stored: ${s.name} (${s.domain})`);
          for (const r of rejected) this.trace('info', `cookie rejected: ${r}`);
        }
      }

      const location = rawHeaders.find(([k]) => k.toLowerCase() === 'location')?.[1];
      const isRedirect = [301, 302, 303, 307, 308].includes(res.statusCode) && location !== undefined;
      if (!follow || !isRedirect) {
        const connection = connectionInfo(used?.record);
        return {
          url: url.href,
          status: res.statusCode,
          statusText,
          httpVersion,
          headers: lowerHeaders(rawHeaders),
          rawHeaders,
          interim: seen.interim,
          trailers: seen.trailers,
          redirects,
          hops,
          body: res.body,
          timings,
          ...(connection ? { connection } : {}),
          connects: this.connections.filter((c) => c.startedAt >= timings.start).length,
          uploadBytes,
          ...(sentReferer !== undefined ? { referer: sentReferer } : {}),
        };
      }

      await res.body.dump().catch(() => {});
      // undici hands the connection back to its pool a tick after the body ends: the next hop
      // waits for it, so a redirect on the same origin reuses the connection (as curl does)
      await new Promise((resolve) => setImmediate(resolve));
      let next: URL;
      try {
        // the Location's bytes, percent-encoded as they are (UTF-8 stays UTF-8), as curl sends them
        next = new URL(percentEncodeHighBytes(location), url);
      } catch {
        throw new NetkitError(
          'NETKIT_PROTOCOL',
          `bad redirect Location ${JSON.stringify(byteStringToText(redactLocation(location)))} from ${url.href}`,
        );
      }
      // credentials written into a Location are neither used nor shown in hops, traces or --meta
      takeUserinfo(next);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new NetkitError('NETKIT_PROTOCOL', `redirect to unsupported URL ${next.href}`);
      next.hash = '';
      if (redirects.length >= maxRedirects)
        throw new NetkitError(
          'NETKIT_PROTOCOL',
          `too many redirects (more than ${maxRedirects}); last one: ${url.href} → ${next.href}`,
        );
      redirects.push({ url: url.href, status: res.statusCode, location: next.href });
      hops.push({
        url: url.href,
        status: res.statusCode,
        statusText,
        httpVersion,
        rawHeaders: rawHeaders.map(([k, v]) => [k, k.toLowerCase() === 'location' ? redactLocation(v) : v]),
        interim: seen.interim,
      });
      const toGet =
        (res.statusCode === 303 && method !== 'HEAD') ||
        ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST');
      if (toGet) {
        method = 'GET';
        body = undefined;
        headers = removeHeaders(headers, 'content-type', 'content-length', 'transfer-encoding');
      }
      this.trace('info', `redirect ${res.statusCode} → ${next.href}${toGet ? ' (as GET)' : ''}`);
      // curl -e ';auto': the page redirected from (no user info or fragment: url has none)
      if (o.autoReferer) referer = url.href;
      url = next;
      timings.redirectMs = performance.now() - timings.start;
    }
  }

  /** Close the connection pool (waits for running requests). */
  async close(): Promise<void> {
    if (this.dispatcher && !this.options.dispatcher) await (await this.dispatcher).close();
  }
}

type TraceLine = ['out' | 'info', string];

function hasBody(o: HttpRequestOptions): boolean {
  return (
    o.body !== undefined ||
    o.bodyFile !== undefined ||
    o.form !== undefined ||
    o.json !== undefined ||
    o.multipart !== undefined
  );
}

function lowerHeaders(raw: HeaderList): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of raw) {
    const n = k.toLowerCase();
    const prev = out[n];
    if (prev === undefined) out[n] = n === 'set-cookie' ? [v] : v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[n] = `${prev}, ${v}`;
  }
  return out;
}

/** A `lookup` for net.connect that answers from a `{"host:port": address}` table first. */
function resolveLookup(table: Record<string, string>) {
  const byHost = new Map<string, string>();
  for (const [key, address] of Object.entries(table)) {
    const i = key.lastIndexOf(':');
    byHost.set((i > 0 ? key.slice(0, i) : key).replace(/^\[|\]$/g, '').toLowerCase(), address);
  }
  return async function lookup(
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): Promise<void> {
    const address = byHost.get(hostname.toLowerCase());
    if (address === undefined) {
      const dns = await import('node:dns');
      dns.lookup(hostname, options, callback as never);
      return;
    }
    const family = address.includes(':') ? 6 : 4;
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

/** A response with the whole body read into memory (up to `maxBodyBytes`). */
export interface BufferedHttpResponse extends Omit<HttpResponse, 'body'> {
  body: Buffer;
}

/**
 * One request with a throw-away client: the body is read completely (NETKIT_TOO_LARGE past
 * `maxBodyBytes`, default 64 MiB, counted after decoding when `compressed`). For streaming bodies
 * use {@link HttpClient}.
 */
export async function httpRequest(
  options: HttpRequestOptions & HttpClientOptions & { maxBodyBytes?: number },
): Promise<BufferedHttpResponse> {
  const client = new HttpClient(options);
  try {
    const res = await client.request(options);
    const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    // the body as sent, counted before decoding: how far it got if the connection closes under it
    let read = 0;
    const raw = tap(res.body, (n) => {
      read += n;
    });
    const body = options.compressed ? decodeBody(raw, res.headers['content-encoding']) : raw;
    try {
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > limit) {
          res.body.destroy();
          throw new NetkitError('NETKIT_TOO_LARGE', `response body larger than ${limit} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      throw options.signal?.aborted
        ? requestAborted(res.url, options.signal.reason)
        : httpError(err, res.url, undefined, bodyProgress(res, read));
    }
    return { ...res, body: Buffer.concat(chunks) };
  } finally {
    await client.close();
  }
}
