/**
 * `download(url, options)`: aria2-style multi-connection, resumable HTTP download, on Node's
 * http(s) agents (one per download, up to N keep-alive connections; see node-transport.ts for why
 * not undici) or, through a proxy, on undici's ProxyAgent.
 *
 * The job: probe → choose the file name → segmented (Range works, size known) or single stream →
 * verify checksum → rename `FILE.part` to `FILE`. Segmented mode plans N segments, runs N workers
 * that each fetch a segment, retry it with backoff from where it stopped, and steal half of the
 * largest remaining segment when they run out. A control file beside the `.part` records the
 * finished spans (periodically, on failure and on abort), so `continue` fetches only what is
 * missing — guarded by `If-Range` so a changed remote file restarts cleanly instead of splicing.
 * One stream writes in order, so its `.part`'s length is its progress: it goes on from there (a
 * retry, or `continue` in a later run) with `Range: bytes=N-` and If-Range, as wget -c does.
 * Servers that ignore Range or lie about sizes are detected per response (see fetch.ts) and the
 * job falls back to one stream; nothing is ever renamed into place unverified. `ftp://` and
 * `ftps://` URLs take the same path with FTP connections in place of HTTP requests (ftp-source.ts).
 */
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { access, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { ensureDir } from '../../core/datadir.js';
import { hasErrorCode, NetkitError } from '../../core/errors.js';
import type { TypedEmitter } from '../../core/events.js';
import { formatBytes } from '../../core/format.js';
import { checkDeclaredSize } from '../../core/size-limit.js';
import { type CaCertificates, defaultTrust } from '../../core/tls-trust.js';
import { nextConnId, type TraceEvents, traceEvent } from '../../core/trace.js';
import { VERSION } from '../../version.js';
import { httpError } from '../http-error.js';
import { type ProxyRoute, proxyDispatcher, proxyFor, proxyRoute, redactProxy } from '../proxy.js';
import { DEFAULT_MAX_REDIRECTS, MAX_RESPONSE_HEADER_BYTES } from '../undici-parts.js';
import { basicAuthorization, splitUserinfo } from '../userinfo.js';
import { type Checksum, hashFile, parseChecksum } from './checksum.js';
import {
  controlPath,
  readControl,
  readStreamControl,
  removeControl,
  writeControl,
  writeStreamControl,
} from './control.js';
import {
  type FetchContext,
  fetchRange,
  fetchWhole,
  type LiveSegment,
  RangeProblem,
  type Resume,
  RetryableError,
} from './fetch.js';
import { chooseFilename } from './filename.js';
import { FtpRangeFetcher, FtpSource, isFtpUrl } from './ftp-source.js';
import { NodeTransport, type Transport } from './node-transport.js';
import { alreadyComplete, unusedName } from './output.js';
import {
  finishedSpans,
  missingSpans,
  pickSteal,
  planSegments,
  type Span,
  splitSegment,
  totalLength,
} from './planner.js';
import {
  acceptsRanges,
  checkUrl,
  header,
  ifRangeValidator,
  type ProbeResult,
  probe,
  type RequestContext,
  type Trace,
  validators,
} from './probe.js';
import { ioError, PartFile } from './writer.js';

export interface DownloadOptions {
  /** output file (a path; not sanitised: the user chose it) */
  output?: string;
  /** directory for the output (default: the current directory) */
  dir?: string;
  /** parallel connections (aria2c -x/-s), default 4 */
  connections?: number;
  /** minimum segment size in bytes (aria2c -k), default 1 MiB */
  minSegmentSize?: number;
  /** resume from `FILE.part` + its control file when they match the remote file */
  continue?: boolean;
  /** `sha256=HEX` (or sha1, md5, sha512), verified before the rename */
  checksum?: string | Checksum;
  /** refuse a file larger than this (curl --max-filesize): before any byte when its size is known */
  maxFileSize?: number;
  /** retries per segment after a failure without progress (default 5) */
  retries?: number;
  /** first retry delay, doubled each time (default 500 ms, capped at 30 s) */
  retryDelayMs?: number;
  /**
   * retry a refused first connection too (curl and wget `--retry-connrefused`): by default a
   * server that refuses before the download began fails at once (a wrong port is a mistake, not
   * a hiccup); a refusal after that — a server restarting mid-download — is always retried
   */
  retryConnRefused?: boolean;
  /** connect, headers and body-idle timeout (default 30 s) */
  timeoutMs?: number;
  /**
   * longest `Retry-After` honoured on a 408/425/429/5xx (default 60 s, and never more than
   * `timeoutMs`): a longer request waits this long, then retries
   */
  maxRetryAfterMs?: number;
  /** skip TLS certificate verification */
  insecure?: boolean;
  /** explicit FTPS for an `ftp://` URL: AUTH TLS before the login, encrypted data (PROT P) */
  ftpTls?: boolean;
  /** trust only these CA certificates (PEM) instead of the system's (curl --cacert) */
  ca?: CaCertificates;
  /** Basic authentication (else from user info in the URL); sent to the URL's origin only */
  auth?: { username: string; password: string };
  /** proxy for every URL (curl --proxy); default from http_proxy / https_proxy / all_proxy; '' = none */
  proxy?: string;
  /** hosts reached without the proxy (curl --noproxy); default from no_proxy / NO_PROXY */
  noProxy?: string;
  /** extra request headers */
  headers?: Record<string, string>;
  /** abort the download: rejects with a {@link DownloadInterrupted}, the `.part` file kept, like `abort()` */
  signal?: AbortSignal;
  /** most redirects followed before failing (default 20) */
  maxRedirects?: number;
  /** how often 'progress' is emitted (default 250 ms) */
  progressIntervalMs?: number;
  /** how often the control file is rewritten (default 5000 ms; each rewrite first syncs the `.part`) */
  controlIntervalMs?: number;
}

export interface DownloadProgress {
  /** bytes present (including those kept from an earlier run) */
  done: number;
  total?: number;
  /** bytes/second over the last few seconds */
  rate: number;
  /** work not yet finished: waiting (conn 0) or in flight on connection `conn` */
  segments: Array<{ start: number; end: number; done: number; conn: number }>;
}

export interface DownloadStart {
  url: string;
  file: string;
  size?: number;
  mode: 'segmented' | 'single';
  connections: number;
  /** bytes kept from an earlier run */
  resumedBytes: number;
}

export interface DownloadResult {
  file: string;
  size: number;
  /** present when a sha256 checksum was verified */
  sha256?: string;
  checksum?: Checksum;
  /** final URL after redirects */
  url: string;
  mode: 'segmented' | 'single';
  /** 0 when `continue` found the file already complete and fetched nothing */
  connections: number;
  resumedBytes: number;
  /** bytes received over the network in this run */
  bytesFetched: number;
  /** clean restarts because the remote file changed */
  restarts: number;
  elapsedMs: number;
}

/** What a {@link DownloadHandle} emits, each event with its listener's arguments. */
export interface DownloadEvents extends TraceEvents {
  /** the transfer begins: the file written, its size, single or segmented, bytes kept from before */
  start: [start: DownloadStart];
  /** bytes done, rate and open segments, every `progressIntervalMs` and once at the end */
  progress: [progress: DownloadProgress];
}

export interface DownloadHandle extends TypedEmitter<DownloadEvents> {
  readonly promise: Promise<DownloadResult>;
  /** stop: the promise rejects with {@link DownloadInterrupted}, saying what was kept for `continue` */
  abort(): void;
}

/**
 * What an interrupted or failed download leaves for a later run: the one answer to "can `continue`
 * go on from here?" (the CLI prints it; it does not guess from the files on disk).
 */
export interface KeptPart {
  /** the `.part` file */
  part: string;
  /**
   * bytes of the file it holds: when resumable, exactly what `continue` keeps (what the control
   * file claims; one stream: the `.part`'s length); 0 when nothing was received
   */
  bytes: number;
  /**
   * `continue` goes on from it: a control file on disk says which bytes of which remote file the
   * `.part` holds (segments: the finished spans; one stream: the body its length is the start of)
   */
  resumable: boolean;
  /** that control file, when resumable */
  control?: string;
  /** why a later run starts over, when not resumable */
  why?: string;
}

/** An aborted download's rejection (`NETKIT_IO`), with what it kept for `continue`. */
export class DownloadInterrupted extends NetkitError {
  /** undefined when it stopped before the transfer began (nothing of this run is on disk) */
  readonly kept: KeptPart | undefined;
  constructor(kept: KeptPart | undefined, cause: unknown) {
    super(
      'NETKIT_IO',
      !kept
        ? 'download interrupted before the transfer started'
        : kept.resumable
          ? 'download interrupted; the .part file is kept (resume with continue)'
          : `download interrupted; the .part file is kept, but it cannot be resumed (${kept.why}): running again starts over`,
      { cause },
    );
    this.kept = kept;
  }
}

/**
 * How a download rejects once its `.part` was opened: the `NetkitError` that says what failed (its
 * `code` and message are the failure's own) carries `kept` as well — after Ctrl-C
 * ({@link DownloadInterrupted}) and after any failure alike (retries used up, a full disk, a
 * checksum mismatch…). A rejection before the `.part` was opened has no `kept`.
 */
export type DownloadError = NetkitError & { readonly kept?: KeptPart | undefined };

/** Why one stream that cannot use byte ranges leaves nothing to resume. */
const NO_RANGES = 'one stream, without byte ranges';

export const DEFAULT_CONNECTIONS = 4;
export const DEFAULT_MIN_SEGMENT = 1024 * 1024;
const MAX_RESTARTS = 3;

type Outcome = { mode: 'segmented' | 'single'; size: number; resumedBytes: number; connections?: number };

/** The body a single stream writes: its length when known, and its validators. */
interface StreamBody {
  length?: number | undefined;
  etag?: string | undefined;
  lastModified?: string | undefined;
}

/** A file's length, or -1 when there is none. */
async function lengthOf(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => -1,
  );
}

/**
 * A `.part` with a control file holds an interrupted download of this very name. Starting over
 * without `--continue` would silently throw that away (aria2c resumes it on its own; curl and wget
 * do not); instead the run stops and says how to go on.
 */
async function refuseToDiscard(part: string): Promise<void> {
  // a control file without its .part (or beside an empty one) holds nothing to lose
  const partSize = await lengthOf(part);
  if (partSize <= 0) return;
  const ctl = await readControl(controlPath(part)).catch(() => undefined);
  // one stream's progress is its .part's length
  const stream = !ctl && (await readStreamControl(controlPath(part)));
  const kept = ctl ? totalLength(ctl.spans) : stream ? partSize : 0;
  if (kept > 0)
    throw new NetkitError(
      'NETKIT_USAGE',
      `${part} holds ${formatBytes(kept)} of an earlier run of this download: add --continue to resume it, or delete it to start over`,
    );
}

/** Start a download; see the module comment. */
export function download(url: string, options: DownloadOptions = {}): DownloadHandle {
  const controller = new AbortController();
  if (options.signal) {
    if (options.signal.aborted) controller.abort();
    else options.signal.addEventListener('abort', () => controller.abort(), { once: true });
  }
  const emitter = new EventEmitter();
  const job = new DownloadJob(emitter, url, options, controller.signal);
  const handle = Object.assign(emitter, {
    promise: job.run(),
    abort: () => controller.abort(),
  });
  return handle as DownloadHandle;
}

class DownloadJob {
  private readonly emitter: EventEmitter;
  private readonly url: string;
  private readonly opts: Required<
    Pick<
      DownloadOptions,
      | 'connections'
      | 'minSegmentSize'
      | 'retries'
      | 'retryDelayMs'
      | 'timeoutMs'
      | 'maxRetryAfterMs'
      | 'maxRedirects'
      | 'progressIntervalMs'
      | 'controlIntervalMs'
    >
  > &
    DownloadOptions;
  private readonly signal: AbortSignal;
  private readonly agent: Transport;
  private readonly route: ProxyRoute | undefined;
  /** Basic credentials, sent to this origin only (a redirect elsewhere does not get them) */
  private readonly auth: RequestContext['auth'];
  /** a bad option found while setting up, reported by run() */
  private readonly setupError: unknown;
  /** the proxy the requests go through, once known (for messages) */
  private proxy: string | undefined;
  /** set for ftp:// and ftps:// URLs: segments come over FTP connections */
  private readonly ftp: FtpSource | undefined;
  private readonly headers: Record<string, string>;
  // state of the current attempt, read by the progress and control timers
  private total: number | undefined;
  private pending: LiveSegment[] = [];
  private live = new Set<LiveSegment>();
  private completed: Span[] = [];
  private fetched = 0;
  private samples: Array<{ t: number; bytes: number }> = [];
  /**
   * the `.part` of the current attempt once it is open (until it is renamed into place), and how
   * many bytes of the file it holds (see {@link KeptPart.bytes})
   */
  private partFile: { path: string; bytes: () => Promise<number> } | undefined;
  /**
   * a control file on disk tells the truth about the `.part` (never more bytes than it durably
   * holds): `continue` goes on from it. Set only by what was written, found or removed.
   */
  private controlOnDisk = false;
  /** why `continue` cannot go on from the `.part`, while there is no such control file */
  private whyNot = 'nothing was received yet';
  private nextSegmentId = 1;

  constructor(emitter: EventEmitter, url: string, options: DownloadOptions, signal: AbortSignal) {
    this.emitter = emitter;
    // user info in the URL becomes the credentials and leaves the URL: it would otherwise reach the
    // traces, the 'start' event and the control file on disk
    const { url: clean, credentials: fromUrl } = splitUserinfo(url);
    this.url = clean;
    const credentials = options.auth ?? fromUrl;
    if (credentials && URL.canParse(clean)) {
      this.auth = {
        origin: new URL(clean).origin,
        header: basicAuthorization(credentials),
      };
    }
    this.signal = signal;
    this.opts = {
      ...options,
      connections: Math.max(1, Math.floor(options.connections ?? DEFAULT_CONNECTIONS)),
      minSegmentSize: Math.max(1, Math.floor(options.minSegmentSize ?? DEFAULT_MIN_SEGMENT)),
      retries: Math.max(0, options.retries ?? 5),
      retryDelayMs: Math.max(0, options.retryDelayMs ?? 500),
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetryAfterMs: Math.max(0, options.maxRetryAfterMs ?? 60_000),
      maxRedirects: options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
      progressIntervalMs: options.progressIntervalMs ?? 250,
      controlIntervalMs: options.controlIntervalMs ?? 5000,
    };
    const agentOptions = {
      connections: this.opts.connections,
      connect: {
        ...defaultTrust(options.ca),
        rejectUnauthorized: !options.insecure,
        timeout: this.opts.timeoutMs,
      },
      headersTimeout: this.opts.timeoutMs,
      bodyTimeout: this.opts.timeoutMs,
      maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
    };
    try {
      this.route = proxyRoute(options);
      if (options.ftpTls && !/^ftp:\/\//i.test(clean))
        throw new NetkitError(
          'NETKIT_USAGE',
          /^ftps:\/\//i.test(clean)
            ? '--ftp-tls (explicit) and ftps:// (implicit TLS) exclude each other'
            : '--ftp-tls applies to ftp:// URLs only',
        );
      if (isFtpUrl(clean)) {
        if (options.proxy)
          throw new NetkitError(
            'NETKIT_USAGE',
            'ftp:// downloads connect to the server directly: --proxy applies to http:// and https:// only',
          );
        this.ftp = new FtpSource(clean, {
          ...(credentials ? { auth: credentials } : {}),
          ...(options.insecure ? { insecure: true } : {}),
          ...(options.ftpTls ? { explicitTls: true } : {}),
          ...(options.ca !== undefined ? { ca: [options.ca].flat().map(String) } : {}),
          timeoutMs: options.timeoutMs ?? 30_000,
          onTrace: (ev) => emitter.emit('trace', ev),
        });
      }
    } catch (err) {
      this.setupError = err;
    }
    this.agent = this.route
      ? viaUndici(
          proxyDispatcher(this.route, agentOptions, {
            insecure: options.insecure,
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
          }),
        )
      : new NodeTransport({
          connections: this.opts.connections,
          timeoutMs: this.opts.timeoutMs,
          maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
          rejectUnauthorized: !options.insecure,
          ...(options.ca !== undefined ? { ca: options.ca } : {}),
        });
    this.headers = { 'user-agent': `netkit/${VERSION}`, 'accept-encoding': 'identity', ...options.headers };
  }

  private tracer(conn: number): Trace {
    return (kind, text) => traceEvent(this.emitter, this.ftp ? 'ftp' : 'http', conn, kind, text);
  }

  /** Content-Disposition of the first successful GET (a server may send it there but not to HEAD). */
  private getDisposition: string | undefined;

  /**
   * Where the finished download goes: `file`, unless the name was ours to choose, HEAD gave none,
   * and a GET response named the file (as curl -OJ and aria2c read it) — then that name, in the same
   * directory and never over an existing file. The .part keeps the URL's name, so --continue finds
   * it again by the same HEAD.
   */
  private async nameFromGet(file: string, named: string, info: ProbeResult, trace: Trace): Promise<string> {
    if (this.opts.output !== undefined || info.contentDisposition || !this.getDisposition) return file;
    const chosen = path.resolve(path.dirname(named), chooseFilename(info.url, this.getDisposition));
    if (chosen === named) return file;
    const target = await unusedName(chosen);
    trace(
      'info',
      `the server names it ${path.basename(target)} (Content-Disposition of the GET, not of the HEAD)`,
    );
    return target;
  }

  private requestContext(conn: number, signal: AbortSignal): RequestContext {
    return {
      dispatcher: this.agent,
      headers: this.headers,
      signal,
      trace: this.tracer(conn),
      maxRedirects: this.opts.maxRedirects,
      ...(this.auth ? { auth: this.auth } : {}),
      ...(URL.canParse(this.url) ? { userOrigin: new URL(this.url).origin } : {}),
      onResponse: (method, res) => {
        if (method !== 'GET' || res.statusCode < 200 || res.statusCode >= 300) return;
        this.getDisposition ??= header(res.headers, 'content-disposition');
      },
    };
  }

  async run(): Promise<DownloadResult> {
    // Let the caller attach 'trace' and 'progress' listeners before the first request goes out.
    await Promise.resolve();
    if (this.setupError) {
      await this.agent.destroy().catch(() => {});
      throw this.setupError;
    }
    const started = performance.now();
    const progressTimer = setInterval(() => this.emitProgress(), this.opts.progressIntervalMs);
    progressTimer.unref();
    let proxy: string | undefined;
    try {
      proxy = this.ftp ? undefined : proxyFor(this.route, checkUrl(this.url));
      if (proxy && Object.keys(this.headers).some((h) => h.toLowerCase() === 'proxy-authorization'))
        throw new NetkitError(
          'NETKIT_USAGE',
          'give the proxy credentials in the proxy URL (--proxy http://USER:PASSWORD@HOST:PORT), not as a Proxy-Authorization header',
        );
      const checksum =
        typeof this.opts.checksum === 'string' ? parseChecksum(this.opts.checksum) : this.opts.checksum;
      const trace = this.tracer(nextConnId());
      if (proxy) trace('info', `via proxy ${redactProxy(proxy)}`);
      this.proxy = proxy;
      let info = await this.probe(trace, true);
      if (this.opts.maxFileSize !== undefined) checkDeclaredSize(info.size, this.opts.maxFileSize);
      const named = path.resolve(
        this.opts.dir ?? '.',
        this.opts.output ?? chooseFilename(info.url, info.contentDisposition),
      );
      await this.checkDirectory(path.dirname(named));
      const complete = (this.opts.continue ?? false) && (await alreadyComplete(named, info.size));
      // -o is the user's word and replaces what is there; a name chosen for us never does
      const file = complete || this.opts.output !== undefined ? named : await unusedName(named);
      if (file !== named) trace('info', `${path.basename(named)} exists; saving as ${path.basename(file)}`);
      const part = `${file}.part`;
      if (!this.opts.continue) await refuseToDiscard(part);
      const existing = await stat(file).catch(() => undefined);
      if (existing?.isDirectory())
        throw new NetkitError('NETKIT_INVALID_INPUT', `${file} is a directory: name the output file with -o`);
      // the finished .part is renamed over the target: that would replace a device (/dev/null) or a
      // FIFO with a file
      if (existing && !existing.isFile())
        throw new NetkitError(
          'NETKIT_INVALID_INPUT',
          `${file} is not a regular file: a download is saved to a file (\`netkit http get URL -o ${file}\` writes to a device or pipe)`,
        );
      trace(
        'info',
        `saving to ${file} (${info.size === undefined ? 'size unknown' : `${info.size} bytes`}, ranges ${info.acceptRanges === 'unknown' ? 'not advertised; trying them' : info.acceptRanges ? 'yes' : 'no'})`,
      );

      let outcome: Outcome;
      let restarts = 0;
      if (complete) {
        trace(
          'info',
          `${path.basename(file)} is already complete (${info.size} bytes, the server's size); nothing to fetch`,
        );
        const size = info.size ?? 0;
        this.total = size;
        this.start({ file, size, mode: 'single', connections: 0, resumedBytes: size });
        outcome = { mode: 'single', size, resumedBytes: size, connections: 0 };
      } else ({ outcome, info, restarts } = await this.transfer(info, file, part, trace));

      const result: DownloadResult = {
        file,
        size: outcome.size,
        url: info.url,
        mode: outcome.mode,
        connections: outcome.connections ?? 1,
        resumedBytes: outcome.resumedBytes,
        bytesFetched: this.fetched,
        restarts,
        elapsedMs: 0,
      };
      if (checksum) {
        const actual = await hashFile(complete ? file : part, checksum.algorithm);
        if (actual !== checksum.hex) {
          await this.forgetControl(controlPath(part), `${checksum.algorithm} mismatch`);
          throw new NetkitError(
            'NETKIT_CHECKSUM',
            `${checksum.algorithm} mismatch: expected ${checksum.hex}, got ${actual} (${complete ? `${file} was there already; left as it is` : `kept ${part}`})`,
          );
        }
        trace('info', `${checksum.algorithm} verified: ${actual}`);
        result.checksum = checksum;
        if (checksum.algorithm === 'sha256') result.sha256 = actual;
      }
      if (!complete) {
        const target = await this.nameFromGet(file, named, info, trace);
        try {
          await rename(part, target);
        } catch (err) {
          throw ioError(err, target);
        }
        this.partFile = undefined;
        await removeControl(controlPath(part));
        result.file = target;
      }
      result.elapsedMs = Math.round(performance.now() - started);
      this.emitProgress(true);
      return result;
    } catch (err) {
      const kept = await this.kept();
      if (this.signal.aborted) throw new DownloadInterrupted(kept, err);
      // network failures as one line that names the host (and the proxy, when it was the proxy's)
      const failure = err instanceof NetkitError ? err : httpError(err, this.url, proxy);
      // the failure's own class, code and message, and what it left for `continue`
      if (kept) Object.assign(failure, { kept });
      throw failure;
    } finally {
      clearInterval(progressTimer);
      await this.agent.destroy().catch(() => {});
    }
  }

  /**
   * Move the bytes into `part`: segmented when the server allows, else one stream; a Range problem
   * falls back to one stream, a changed remote file restarts from a fresh probe.
   */
  private async transfer(
    first: ProbeResult,
    file: string,
    part: string,
    trace: Trace,
  ): Promise<{ outcome: Outcome; info: ProbeResult; restarts: number }> {
    let info = first;
    let restarts = 0;
    let resume = this.opts.continue ?? false;
    let forceSingle = false;
    for (;;) {
      try {
        const segmented =
          !forceSingle && info.acceptRanges !== false && info.size !== undefined && info.size > 0;
        const outcome = segmented
          ? await this.segmented(info, file, part, resume)
          : await this.single(info, file, part, !forceSingle && info.acceptRanges !== false);
        return { outcome, info, restarts };
      } catch (err) {
        if (!(err instanceof RangeProblem) || this.signal.aborted) throw err;
        await this.forgetControl(
          controlPath(part),
          err.kind === 'changed' ? 'the remote file changed' : 'the server mishandled byte ranges',
        );
        resume = false;
        // ranges that were only assumed and then misbehaved are not tried again after a re-probe
        if (info.acceptRanges === 'unknown') forceSingle = true;
        if (err.kind === 'changed') {
          if (++restarts > MAX_RESTARTS)
            throw new NetkitError(
              'NETKIT_PROTOCOL',
              `the remote file keeps changing (${restarts - 1} restarts)`,
            );
          trace('info', `${err.message}; restarting from scratch`);
          info = await this.probe(trace, false);
        } else {
          trace('info', `${err.message}; falling back to a single stream`);
          forceSingle = true;
        }
      }
    }
  }

  /**
   * Probe, retrying a busy server (503, 429…) or a reset connection with the segments' backoff; a
   * refused connection only with `retryConnRefused` (see {@link DownloadOptions}) unless it is not
   * the `first` (the server answered a moment ago: it is restarting).
   */
  private async probe(trace: Trace, first: boolean): Promise<ProbeResult> {
    let failures = 0;
    for (;;) {
      try {
        return this.ftp
          ? await this.ftp.probe()
          : await probe(this.requestContext(nextConnId(), this.signal), this.url);
      } catch (err) {
        if (this.signal.aborted) throw err;
        const refused = hasErrorCode(err, ['ECONNREFUSED']);
        if (refused && first && !this.opts.retryConnRefused)
          throw err instanceof RetryableError
            ? new NetkitError('NETKIT_CONNECT_FAILED', err.message, { cause: err.cause })
            : err;
        const retry =
          err instanceof RetryableError
            ? err
            : refused
              ? new RetryableError(httpError(err, this.url, this.proxy).message, { cause: err })
              : undefined;
        if (!retry) throw err;
        failures = await this.backoff(failures, undefined, retry, this.signal, trace);
      }
    }
  }

  private async checkDirectory(dir: string): Promise<void> {
    try {
      await ensureDir(dir);
      await access(dir, constants.W_OK);
    } catch (err) {
      throw ioError(err, dir);
    }
  }

  private start(s: Omit<DownloadStart, 'url'>): void {
    this.emitter.emit('start', { url: this.url, ...s });
  }

  /** What an interruption or a failure now leaves (see {@link KeptPart}). */
  private async kept(): Promise<KeptPart | undefined> {
    if (this.partFile === undefined) return undefined;
    const { path: part, bytes } = this.partFile;
    const held = await bytes().catch(() => 0);
    return this.controlOnDisk
      ? { part, bytes: held, resumable: true, control: controlPath(part) }
      : { part, bytes: held, resumable: false, why: this.whyNot };
  }

  /**
   * Write the control file with `write` (atomically and durably). When that fails, an earlier
   * control file of this `.part` still tells the truth (it claims less, not more) and stays; any
   * other is removed, so that none claims what the `.part` does not hold.
   */
  private async saveControl(ctlPath: string, write: () => Promise<void>, trace: Trace): Promise<void> {
    try {
      await write();
      this.controlOnDisk = true;
    } catch (err) {
      const why = ioError(err, ctlPath).message;
      if (this.controlOnDisk) {
        trace('info', `${why}; the control file saved before stays`);
        return;
      }
      trace('info', `${why}; this download cannot be resumed`);
      await this.forgetControl(ctlPath, why);
    }
  }

  /** No control file for the `.part`: a later run starts over, because `why`. */
  private async forgetControl(ctlPath: string, why: string): Promise<void> {
    this.controlOnDisk = false;
    this.whyNot = why;
    try {
      await removeControl(ctlPath);
    } catch (err) {
      // a control file that cannot be removed would go on claiming bytes: stop here instead
      throw ioError(err, ctlPath);
    }
  }

  // ---- segmented mode ----

  private async segmented(
    info: ProbeResult,
    file: string,
    partPath: string,
    resume: boolean,
  ): Promise<{ mode: 'segmented'; size: number; resumedBytes: number; connections: number }> {
    const size = info.size!;
    const ctlPath = controlPath(partPath);
    const trace = this.tracer(nextConnId());
    let done: Span[] = [];
    if (resume) {
      const ctl = await readControl(ctlPath);
      const partSize = await lengthOf(partPath);
      const partName = path.basename(partPath);
      const changed = ctl && remoteChange(ctl, { size, etag: info.etag, lastModified: info.lastModified });
      if (ctl && !changed && partSize === size) {
        done = ctl.spans;
        trace('info', `resuming: ${totalLength(done)} of ${size} bytes already in ${partName}`);
      } else if (ctl && changed) {
        trace('info', `the remote file changed since the last run (${changed}); starting over`);
      } else if (ctl && partSize < 0) {
        trace('info', `${partName} is missing (its control file is there); starting over`);
      } else if (ctl) {
        trace(
          'info',
          `${partName} is ${partSize} bytes, not the ${size} its control file expects; starting over`,
        );
      } else if (await readStreamControl(ctlPath)) {
        trace('info', `${partName} was written by one stream, not in segments; starting over`);
      } else {
        trace('info', `no control file for ${path.basename(partPath)}; starting from the beginning`);
      }
    }
    const validators = { etag: info.etag, lastModified: info.lastModified };
    /** the bytes the control file on disk claims */
    let recorded = totalLength(done);
    const record = async (spans: Span[]): Promise<void> => {
      await writeControl(ctlPath, { url: this.url, size, ...validators, done: spans });
      recorded = totalLength(spans);
    };
    const finished = (): Span[] =>
      finishedSpans<LiveSegment>(
        this.completed,
        [...this.live, ...this.pending],
        (s) => s.sink?.written ?? s.pos,
      );
    this.controlOnDisk = done.length > 0;
    this.whyNot = 'no control file was saved';
    // A fresh start must not leave an earlier run's control file (a missing or other-sized .part, a
    // changed remote file, one stream's sidecar) beside the new .part: killed before the first
    // save, it would claim the new .part's zeros as finished bytes. Replaced before the truncation.
    if (done.length === 0 && (await lengthOf(ctlPath)) >= 0)
      await this.saveControl(ctlPath, () => record([]), trace);
    const part = await PartFile.open(partPath, { fresh: done.length === 0, size });
    // the .part has the file's length from the start: what it holds is in the spans
    this.partFile = {
      path: partPath,
      bytes: async () => (this.controlOnDisk ? recorded : totalLength(finished())),
    };
    const resumedBytes = totalLength(done);
    this.total = size;
    this.completed = [...done];
    this.live.clear();
    this.pending = planSegments(
      missingSpans(size, done),
      this.opts.connections,
      this.opts.minSegmentSize,
    ).map((s) => this.newSegment(s));
    // a small file (or a small remainder) gets fewer segments than connections: open only those
    const connections = Math.max(1, Math.min(this.opts.connections, this.pending.length));
    this.start({ file, size, mode: 'segmented', connections, resumedBytes });

    // the spans first, then the sync: every byte they count was handed to the kernel before it
    const saveControl = (): Promise<void> =>
      this.saveControl(
        ctlPath,
        async () => {
          const spans = finished();
          await part.sync();
          await record(spans);
        },
        trace,
      );
    const attempt = new AbortController();
    const onAbort = (): void => attempt.abort();
    this.signal.addEventListener('abort', onAbort, { once: true });
    if (this.signal.aborted) attempt.abort();
    let saving: Promise<void> | undefined;
    const controlTimer = setInterval(() => {
      saving ??= saveControl()
        .catch(() => {})
        .finally(() => {
          saving = undefined;
        });
    }, this.opts.controlIntervalMs);
    controlTimer.unref();

    let failure: unknown;
    const fail = (err: unknown): void => {
      failure ??= err;
      attempt.abort();
    };
    try {
      const workers = Array.from({ length: connections }, (_, i) =>
        this.worker(i + 1, { ...info, size }, part, attempt.signal).catch(fail),
      );
      await Promise.all(workers);
    } finally {
      clearInterval(controlTimer);
      this.signal.removeEventListener('abort', onAbort);
      await saving;
      const complete = failure === undefined && !this.signal.aborted;
      if (!complete && !(failure instanceof RangeProblem)) await saveControl().catch(() => {});
      await part.close();
    }
    if (this.signal.aborted) throw this.signal.reason ?? new Error('aborted');
    if (failure !== undefined) throw failure;
    return { mode: 'segmented', size, resumedBytes, connections };
  }

  private newSegment(s: Span): LiveSegment {
    return { id: this.nextSegmentId++, start: s.start, end: s.end, pos: s.start, conn: 0 };
  }

  private async worker(
    id: number,
    info: ProbeResult & { size: number },
    part: PartFile,
    signal: AbortSignal,
  ) {
    const conn = nextConnId();
    const trace = this.tracer(conn);
    const ctx: FetchContext = {
      ...this.requestContext(conn, signal),
      rangesAssumed: info.acceptRanges === 'unknown',
      url: info.url,
      size: info.size,
      etag: info.etag,
      lastModified: info.lastModified,
      ifRange: ifRangeValidator(info),
      part,
      onBytes: (n) => {
        this.fetched += n;
      },
    };
    const ftp = this.ftp ? new FtpRangeFetcher(this.ftp, ctx) : undefined;
    const fetch = ftp ? (s: LiveSegment) => ftp.fetchRange(s) : (s: LiveSegment) => fetchRange(ctx, s);
    try {
      await this.workOn(id, fetch, signal, trace);
    } finally {
      ftp?.drop();
    }
  }

  /** Take segments (or steal halves) until none is left, fetching each with `fetch`. */
  private async workOn(
    id: number,
    fetch: (seg: LiveSegment) => Promise<void>,
    signal: AbortSignal,
    trace: Trace,
  ): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      let seg = this.pending.shift();
      if (!seg) {
        const active = [...this.live];
        const pick = pickSteal(active, this.opts.minSegmentSize);
        if (!pick) return;
        const victim = active[pick.index]!;
        seg = this.newSegment(splitSegment(victim, pick.at));
        trace(
          'info',
          `connection ${id} takes bytes ${seg.start}-${seg.end - 1} from connection ${victim.conn}`,
        );
      }
      seg.conn = id;
      this.live.add(seg);
      await this.runSegment(fetch, seg, signal, trace);
      this.live.delete(seg);
      this.completed.push({ start: seg.start, end: seg.end });
    }
  }

  /** Fetch one segment to its (possibly shrinking) end, retrying from where it stopped. */
  private async runSegment(
    fetch: (seg: LiveSegment) => Promise<void>,
    seg: LiveSegment,
    signal: AbortSignal,
    trace: Trace,
  ): Promise<void> {
    let failures = 0;
    while (seg.pos < seg.end) {
      const before = seg.pos;
      try {
        await fetch(seg);
      } catch (err) {
        if (signal.aborted || !(err instanceof RetryableError)) throw err;
        if (seg.pos > before) failures = 0;
        failures = await this.backoff(failures, `bytes ${seg.pos}-${seg.end - 1}`, err, signal, trace);
      }
    }
  }

  private async backoff(
    failures: number,
    /** what failed, when the error does not say it (`bytes A-B`) */
    what: string | undefined,
    err: Error,
    signal: AbortSignal,
    trace: Trace,
  ): Promise<number> {
    const n = failures + 1;
    // the last failure is the reason, and the only one the user sees: it goes into the message
    // (one line) and stays the error's `cause`
    if (n > this.opts.retries)
      throw new NetkitError(
        'NETKIT_CONNECT_FAILED',
        `gave up after ${this.opts.retries} ${this.opts.retries === 1 ? 'retry' : 'retries'}: ${err.message}${what === undefined ? '' : ` (fetching ${what})`}`,
        { cause: err },
      );
    let delay = Math.min(30_000, this.opts.retryDelayMs * 2 ** (n - 1));
    let why = '';
    if (err instanceof RetryableError && err.retryAfterMs !== undefined) {
      // the server said how long (RFC 9110 §10.2.3), as curl --retry honours it: that replaces our
      // backoff, within a cap — never more than --timeout, the longest the user lets anything wait
      const cap = Math.min(this.opts.maxRetryAfterMs, this.opts.timeoutMs);
      const asked = err.retryAfterMs;
      delay = Math.min(asked, cap);
      const said = /^\d+$/.test(err.retryAfter ?? '')
        ? `Retry-After: ${err.retryAfter}`
        : `Retry-After: ${err.retryAfter}, in ${seconds(asked)}`;
      why =
        asked > cap
          ? ` (the server asked ${said}; waiting at most ${seconds(cap)}${cap === this.opts.timeoutMs ? ', the timeout' : ''})`
          : ` (the server asked ${said})`;
    }
    trace(
      'info',
      `retry ${n}/${this.opts.retries}${what === undefined ? '' : ` for ${what}`} in ${delay} ms: ${err.message}${why}`,
    );
    await sleep(delay, undefined, { signal });
    return n;
  }

  // ---- single-stream mode ----

  /**
   * One stream for the whole file, written in order: the `.part`'s length is how far it got. While
   * ranges may work (`ranges`: the probe did not rule them out; no response said `Accept-Ranges:
   * none`) a sidecar names the body the `.part` begins — its length when known, its validators —
   * and the stream goes on from the bytes on disk: a retry from where this run stopped, `continue`
   * from where an earlier run stopped (killed, even), as wget -c and curl -C - do. Going on asks
   * `Range: bytes=N-` with If-Range (FTP: `REST N` after MDTM is checked); a 200 to that — Range
   * ignored, or a new version — starts over from byte 0, truncating the `.part`, as does every
   * retry when ranges are out.
   */
  private async single(
    info: ProbeResult,
    file: string,
    partPath: string,
    ranges: boolean,
  ): Promise<{ mode: 'single'; size: number; resumedBytes: number }> {
    const conn = nextConnId();
    const trace = this.tracer(conn);
    const ctlPath = controlPath(partPath);
    let canRange = ranges;
    /** the body being written: its length and validators, from the last 200 (or the earlier run's) */
    let body: StreamBody = {};
    const kept = this.opts.continue ? await this.keptStream(info, partPath, ranges, trace) : undefined;
    if (kept) {
      body = kept.body;
      this.controlOnDisk = true;
    } else await this.forgetControl(ctlPath, ranges ? 'nothing was received yet' : NO_RANGES);
    let resumedBytes = kept?.from ?? 0;
    const part = await PartFile.open(partPath, { fresh: resumedBytes === 0 });
    // written in order, never longer than what arrived: its length is what it holds
    this.partFile = { path: partPath, bytes: async () => Math.max(0, await lengthOf(partPath)) };
    /** the sidecar for `body`: its length when known, its validators */
    const recordBody = (): Promise<void> =>
      this.saveControl(
        ctlPath,
        () =>
          writeStreamControl(ctlPath, {
            url: this.url,
            size: body.length,
            etag: body.etag,
            lastModified: body.lastModified,
          }),
        trace,
      );
    const size = kept ? body.length : info.size;
    const seg: LiveSegment = {
      id: this.nextSegmentId++,
      start: 0,
      end: size ?? 0,
      pos: resumedBytes,
      conn: 1,
    };
    this.total = size;
    this.completed = [];
    this.pending = [];
    this.live = new Set([seg]);
    this.start({ file, size, mode: 'single', connections: 1, resumedBytes });
    const ctx = {
      ...this.requestContext(conn, this.signal),
      url: info.url,
      part,
      ...(this.opts.maxFileSize !== undefined ? { maxBytes: this.opts.maxFileSize } : {}),
      onBytes: (n: number) => {
        this.fetched += n;
      },
    };
    let resume: Resume | undefined;
    /** a whole body begins: `said` is its Accept-Ranges (FTP: nothing new) */
    const onStart = async (
      length: number | undefined,
      v: Pick<StreamBody, 'etag' | 'lastModified'>,
      said: boolean | 'unknown' = 'unknown',
    ): Promise<void> => {
      if (length !== undefined && info.size !== undefined && length !== info.size)
        trace('info', `the probe said ${info.size} bytes, the body is ${length}: trusting the body`);
      const next = { length, ...v };
      if (resume) {
        // a 200 to Range: with the same validators the server ignores ranges (do not ask again)
        const changed = next.etag !== body.etag || next.lastModified !== body.lastModified;
        if (!changed) canRange = false;
        trace(
          'info',
          `the server answered 200 to Range: bytes=${resume.from}- (${changed ? 'the remote file changed' : 'no ranges after all'}); starting over from byte 0`,
        );
      }
      // `none` (or only other units) rules ranges out, as in the probe; no header says nothing
      if (said === false) canRange = false;
      body = next;
      resumedBytes = 0;
      this.total = length;
      // no length set ahead (as segments do): the .part's length must say how far the stream got
      await part.truncate(0);
      if (canRange) {
        // synced empty before the sidecar names the new body: never the old bytes under the new name
        await part.sync();
        // the old sidecar names the old body: if the new one cannot be written, it goes
        this.controlOnDisk = false;
        await recordBody();
      } else await this.forgetControl(ctlPath, NO_RANGES);
    };
    /** a resumed body of unknown length: the 206's Content-Range said it, and the sidecar learns it */
    const onRest = async (end: number): Promise<void> => {
      if (body.length === end) return;
      body = { ...body, length: end };
      this.total = end;
      await recordBody();
    };
    const whole = async (): Promise<number> => {
      if (!this.ftp)
        return fetchWhole(
          ctx,
          (length, headers) => onStart(length, validators(headers), acceptsRanges(headers)),
          seg,
          resume,
          onRest,
        );
      const ftp = new FtpRangeFetcher(this.ftp, { ...ctx, size: info.size ?? 0 });
      try {
        if (!resume) await onStart(info.size, { lastModified: info.lastModified });
        return await ftp.fetchWhole(seg, resume?.size ?? info.size, this.opts.maxFileSize, resume);
      } finally {
        ftp.drop();
      }
    };
    let failures = 0;
    /** the furthest the body got: a retry that passes it made progress, and the count starts again */
    let reached = seg.pos;
    let done = false;
    try {
      for (;;) {
        // what is in the .part: bytes [0, seg.pos) of the body (a whole one: a 416 will say so)
        resume =
          canRange && seg.pos > 0 && (body.length === undefined || seg.pos <= body.length)
            ? { from: seg.pos, size: body.length, etag: body.etag, lastModified: body.lastModified }
            : undefined;
        try {
          const size = await whole();
          await part.truncate(size);
          done = true;
          return { mode: 'single', size, resumedBytes };
        } catch (err) {
          if (this.signal.aborted) throw err;
          if (err instanceof RangeProblem && resume) {
            // a new version is fetched whole and can still go on with ranges; a server that
            // mishandles them is not asked again
            if (err.kind === 'changed') {
              seg.pos = 0;
              body = {};
            } else {
              canRange = false;
              await this.forgetControl(ctlPath, NO_RANGES);
            }
            trace('info', `${err.message}; starting over from byte 0`);
            continue;
          }
          if (!(err instanceof RetryableError)) throw err;
          if (seg.pos > reached) {
            reached = seg.pos;
            failures = 0;
          }
          failures = await this.backoff(failures, undefined, err, this.signal, trace);
        }
      }
    } finally {
      // stopped (Ctrl-C, a failure): the .part's length is what the sidecar's resume goes on from —
      // on the disk before this run ends, as the segments sync before their control file
      if (this.controlOnDisk && !done) await part.sync().catch(() => {});
      await part.close();
    }
  }

  /**
   * What `continue` keeps of an earlier single stream: its `.part`, when the sidecar names the body
   * those bytes begin and nothing the probe says contradicts it; undefined (and the reason traced)
   * when nothing can be kept.
   */
  private async keptStream(
    info: ProbeResult,
    partPath: string,
    ranges: boolean,
    trace: Trace,
  ): Promise<{ from: number; body: StreamBody } | undefined> {
    const ctlPath = controlPath(partPath);
    const partName = path.basename(partPath);
    const partSize = await lengthOf(partPath);
    const ctl = ranges ? await readStreamControl(ctlPath) : undefined;
    const changed = ctl && remoteChange(ctl, info, true);
    if (!ranges) {
      const why =
        info.acceptRanges !== false
          ? 'ranges do not work on this server'
          : this.ftp
            ? 'the server does not offer REST STREAM'
            : 'the server does not support ranges';
      trace(
        'info',
        `cannot resume (${why}): starting over from byte 0${partSize >= 0 ? `; ${partName} is discarded` : ''}`,
      );
    } else if (!ctl) {
      trace(
        'info',
        (await readControl(ctlPath))
          ? `${partName} was written in segments, not by one stream; starting over`
          : `no control file for ${partName}; starting from the beginning`,
      );
    } else if (changed) {
      trace('info', `the remote file changed since the last run (${changed}); starting over`);
    } else if (partSize < 0) {
      trace('info', `${partName} is missing (its control file is there); starting over`);
    } else if (ctl.size !== undefined && partSize > ctl.size) {
      trace('info', `${partName} is ${partSize} bytes, more than the ${ctl.size} of the file; starting over`);
    } else if (partSize === 0) {
      trace('info', `${partName} is empty; starting from the beginning`);
    } else {
      trace(
        'info',
        `resuming: ${partSize}${ctl.size === undefined ? '' : ` of ${ctl.size}`} bytes already in ${partName}`,
      );
      return { from: partSize, body: { length: ctl.size, etag: ctl.etag, lastModified: ctl.lastModified } };
    }
    return undefined;
  }

  // ---- progress ----

  private emitProgress(final = false): void {
    if (this.emitter.listenerCount('progress') === 0) return;
    const now = performance.now();
    this.samples.push({ t: now, bytes: this.fetched });
    while (this.samples.length > 2 && now - this.samples[0]!.t > 3000) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    const rate = dt > 0 ? (this.fetched - first.bytes) / dt : 0;
    const open = [...this.pending, ...this.live].filter((s) => s.end > s.pos || final);
    const remaining = final ? 0 : open.reduce((n, s) => n + Math.max(0, s.end - s.pos), 0);
    const total = this.total;
    const done = total === undefined ? [...this.live].reduce((n, s) => n + s.pos, 0) : total - remaining;
    const progress: DownloadProgress = {
      done,
      rate,
      segments: final
        ? []
        : open
            .sort((a, b) => a.start - b.start)
            .map((s) => ({ start: s.start, end: s.end, done: s.pos - s.start, conn: s.conn })),
    };
    if (total !== undefined) progress.total = total;
    this.emitter.emit('progress', progress);
  }
}

export type { Checksum, ChecksumAlgorithm } from './checksum.js';
export { parseChecksum } from './checksum.js';
export { chooseFilename, parseContentDisposition, sanitizeFilename } from './filename.js';
export { mergeSpans, missingSpans, pickSteal, planSegments, type Span } from './planner.js';

/**
 * What differs between a control file and the server's answer now, or undefined when nothing does.
 * `knownOnly` compares only what both sides say: a stream's sidecar holds its GET's validators,
 * and a HEAD may say less (If-Range still guards the bytes themselves).
 */
function remoteChange(
  ctl: { size?: number; etag?: string; lastModified?: string },
  now: { size?: number | undefined; etag?: string | undefined; lastModified?: string | undefined },
  knownOnly = false,
): string | undefined {
  const differ = (a: string | number | undefined, b: string | number | undefined): boolean =>
    knownOnly ? a !== undefined && b !== undefined && a !== b : (a ?? '') !== (b ?? '');
  if (differ(ctl.size, now.size)) return `size ${ctl.size ?? 'unknown'} → ${now.size ?? 'unknown'}`;
  if (differ(ctl.etag, now.etag)) return `ETag ${ctl.etag ?? 'none'} → ${now.etag ?? 'none'}`;
  if (differ(ctl.lastModified, now.lastModified))
    return `Last-Modified ${ctl.lastModified ?? 'none'} → ${now.lastModified ?? 'none'}`;
  return undefined;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** undici's Dispatcher (the proxy router) as a {@link Transport}. */
function viaUndici(d: Dispatcher): Transport {
  return {
    request: (req) => d.request({ ...req, method: req.method as Dispatcher.HttpMethod }),
    destroy: () => d.destroy(),
  };
}
