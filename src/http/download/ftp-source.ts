/**
 * `download()` of `ftp://` URLs (explicit FTPS with `ftpTls`) and `ftps://` URLs (implicit TLS), as
 * aria2c does them: the probe asks SIZE, MDTM and FEAT; each segment is one `REST offset` + `RETR`
 * on a connection of its own, read until the segment's end — the server sends to the end of the
 * file, so the connection is closed there (its transfer cannot be stopped any other way that every
 * server honours) and the worker logs in again for its next segment; a segment that runs to the end
 * of the file finishes its transfer and keeps the connection. Everything else (planning, stealing,
 * retries, the control file, resume, checksum, the rename) is the HTTP downloader's, unchanged.
 *
 * FTP has no If-Range: before every segment's RETR the connection asks SIZE and MDTM again, and a
 * difference means the file changed (a restart from scratch, as a changed ETag does over HTTP).
 * MDTM is also the control file's validator across runs. A file the server cannot SIZE, or a server
 * without `REST STREAM`, is fetched in one stream; with REST STREAM that stream goes on from where
 * it stopped (`REST N`, MDTM checked first), in the same run or with `continue`.
 */
import { PassThrough } from 'node:stream';
import { formatHostPort } from '../../core/address.js';
import { hasErrorCode, NetkitError } from '../../core/errors.js';
import { bodyTooLarge } from '../../core/size-limit.js';
import type { TraceEvent } from '../../core/trace.js';
import { FtpClient, FtpClientError, toFtpClientError } from '../../ftp/client.js';
import { parseFtpUrl } from '../../ftp/ftp-url.js';
import { CURL_TRUST_FLAGS } from '../http-error.js';
import {
  type FetchContext,
  type LiveSegment,
  RangeProblem,
  type Resume,
  RetryableError,
  receive,
} from './fetch.js';
import type { ProbeResult } from './probe.js';

export interface FtpSourceOptions {
  /** the login (else the URL's user info, else anonymous) */
  auth?: { username: string; password: string };
  insecure?: boolean;
  /** AUTH TLS on an `ftp://` URL (`ftps://` is implicit TLS) */
  explicitTls?: boolean;
  ca?: string[];
  timeoutMs: number;
  /** every FTP connection's trace events */
  onTrace: (ev: TraceEvent) => void;
}

/** An `ftp://` or `ftps://` URL, for the downloader to take the FTP path. */
export function isFtpUrl(url: string): boolean {
  return /^ftps?:\/\//i.test(url);
}

/** Replies that will not change on a retry (550 no such file, 530 login refused…): 5xx. */
function permanent(err: unknown): boolean {
  return err instanceof FtpClientError && err.ftpCode !== undefined && err.ftpCode >= 500;
}

/** System errors that say "not now" rather than "never": the server may be back in a moment. */
const TRANSIENT_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'];

/**
 * The downloader's view of a failure: permanent FTP replies (5xx), local errors and a login refused
 * as they are; a connection that could not be made for good (unknown host, unreachable network, a
 * certificate not trusted) too. The rest is retried — a refused, reset or timed-out connection as
 * the HTTP path retries it, so `retries` covers a server that restarts.
 */
export function classifyFtp(err: unknown, what: string): unknown {
  if (err instanceof RangeProblem || err instanceof RetryableError) return err;
  const e = toFtpClientError(err, what);
  if (permanent(e) || e.code === 'NETKIT_IO' || e.code === 'NETKIT_AUTH') return e;
  if (
    (e.code === 'NETKIT_CONNECT_FAILED' || e.code === 'NETKIT_NOT_FOUND') &&
    !hasErrorCode(err, TRANSIENT_CODES)
  )
    return e;
  return new RetryableError(e.message, { cause: err });
}

/** One FTP server and file: connections for the probe and for each worker. */
export class FtpSource {
  readonly url: string;
  readonly path: string;
  private readonly target: ReturnType<typeof parseFtpUrl>;
  private readonly opts: FtpSourceOptions;

  constructor(url: string, opts: FtpSourceOptions) {
    this.url = url;
    this.target = parseFtpUrl(url);
    if (this.target.isDirectory || this.target.path === '')
      throw new NetkitError(
        'NETKIT_INVALID_INPUT',
        `${url} names a directory: download fetches one file (netkit ftp mirror fetches a tree)`,
      );
    this.path = this.target.path;
    this.opts = opts;
  }

  /** Connect and log in (retryable failures become {@link RetryableError}). */
  async connect(): Promise<FtpClient> {
    const t = this.target;
    const user = this.opts.auth?.username ?? t.user;
    const password = this.opts.auth?.password ?? t.password;
    try {
      return await FtpClient.connect(
        {
          host: t.host,
          port: t.port,
          ...(user !== undefined ? { user } : {}),
          ...(password !== undefined ? { password } : {}),
          tls: t.scheme === 'ftps' ? 'implicit' : this.opts.explicitTls ? 'explicit' : false,
          rejectUnauthorized: !this.opts.insecure,
          ...(this.opts.ca ? { ca: this.opts.ca } : {}),
          trustFlags: CURL_TRUST_FLAGS,
          timeoutMs: this.opts.timeoutMs,
        },
        (c) => c.on('trace', this.opts.onTrace),
      );
    } catch (err) {
      throw classifyFtp(err, `connect ${formatHostPort(t.host, t.port)}`);
    }
  }

  /** SIZE, MDTM and whether REST STREAM is offered. */
  async probe(): Promise<ProbeResult> {
    const client = await this.connect();
    try {
      // one command at a time: a basic-ftp client runs one task
      let size: number | undefined;
      try {
        size = await client.size(this.path);
      } catch (err) {
        throw classifyFtp(err, `SIZE ${this.path}`);
      }
      const modified = await client.lastModified(this.path).catch(() => undefined);
      const features = await client.features().catch(() => new Map<string, string>());
      // REST STREAM without SIZE is one stream that can go on from where it stopped
      const result: ProbeResult = { url: this.url, acceptRanges: features.has('REST'), method: 'GET' };
      if (size !== undefined) result.size = size;
      if (modified) result.lastModified = modified.toUTCString();
      return result;
    } finally {
      client.close();
    }
  }
}

/** A worker's connection: REST + RETR per segment, logged in again after a segment it had to cut. */
export class FtpRangeFetcher {
  private client: FtpClient | undefined;
  private readonly source: FtpSource;
  private readonly ctx: FetchContext;

  constructor(source: FtpSource, ctx: FetchContext) {
    this.source = source;
    this.ctx = ctx;
  }

  /**
   * A logged-in connection (the worker's, or a new one) on which the file still has the SIZE and
   * MDTM it had (those known) — asked before every segment's RETR and before a stream goes on from
   * where it stopped, FTP's stand-in for If-Range, so a file replaced between two segments (or two
   * runs) is a restart, never two versions spliced.
   */
  private async ready(was: {
    size?: number | undefined;
    lastModified?: string | undefined;
  }): Promise<FtpClient> {
    const client = this.client && !this.client.closed ? this.client : await this.source.connect();
    this.client = client;
    const path = this.source.path;
    let changed: string | undefined;
    try {
      const size = was.size === undefined ? undefined : await client.size(path);
      if (size !== was.size) changed = `SIZE ${size ?? 'unknown'}, was ${was.size}`;
      else if (was.lastModified !== undefined) {
        const modified = (await client.lastModified(path).catch(() => undefined))?.toUTCString();
        if (modified !== undefined && modified !== was.lastModified)
          changed = `MDTM ${modified}, was ${was.lastModified}`;
      }
    } catch (err) {
      this.drop();
      throw classifyFtp(err, `SIZE ${path}`);
    }
    if (changed) {
      this.drop();
      throw new RangeProblem('changed', `the remote file changed (${changed})`);
    }
    return client;
  }

  /** Fetch `[seg.pos, seg.end)`, as the HTTP fetchRange does. */
  async fetchRange(seg: LiveSegment): Promise<void> {
    const client = await this.ready(this.ctx);
    await this.retr(client, seg, {
      // the server sends to the end of the file: a segment that ends earlier stops itself there
      cutShort: () => seg.end < this.ctx.size,
      complete: () => seg.pos >= seg.end,
      overflow: () => new RangeProblem('changed', 'the remote file grew while it was fetched'),
    });
  }

  /**
   * The single-stream path: RETR to the end, `size` bytes when SIZE said so. From byte 0, or with
   * `resume` from `resume.from` (REST), once MDTM (and SIZE, when known) say it is the same file.
   */
  async fetchWhole(
    seg: LiveSegment,
    size: number | undefined,
    maxBytes?: number,
    resume?: Resume,
  ): Promise<number> {
    const client = resume ? await this.ready(resume) : await this.source.connect();
    this.client = client;
    seg.start = 0;
    seg.pos = resume?.from ?? 0;
    seg.end = size ?? maxBytes ?? Number.MAX_SAFE_INTEGER;
    await this.retr(client, seg, {
      cutShort: () => false,
      complete: () => size === undefined || seg.pos >= size,
      overflow: () =>
        size === undefined && maxBytes !== undefined
          ? bodyTooLarge(maxBytes)
          : new RangeProblem('changed', 'the remote file grew while it was fetched'),
    });
    if (size === undefined) seg.end = seg.pos;
    return seg.pos;
  }

  /**
   * `REST seg.pos` + `RETR` into the part file up to `seg.end`. A transfer cut short (`cutShort`)
   * leaves the connection mid-transfer, so it is dropped; one that runs to the end is awaited
   * (its 226) and the connection kept.
   */
  private async retr(
    client: FtpClient,
    seg: LiveSegment,
    hooks: { cutShort: () => boolean; complete: () => boolean; overflow: () => Error },
  ): Promise<void> {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    let transferDone = false;
    /** the transfer's own failure: a 426 after a cleanly closed data connection ends `body` first */
    let transferError: unknown;
    const transfer = client.raw.downloadTo(body, this.source.path, seg.pos).then(
      () => {
        transferDone = true;
      },
      (err: unknown) => {
        transferError = classifyFtp(err, `RETR ${this.source.path}`);
        body.destroy(transferError as Error);
      },
    );
    const onAbort = (): void => {
      body.destroy();
    };
    this.ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await receive(this.ctx, body, seg, hooks);
      if (!hooks.cutShort()) {
        await transfer;
        // the data arrived but the server's reply says the transfer failed: not a whole file
        if (transferError !== undefined) throw transferError;
      }
    } finally {
      this.ctx.signal.removeEventListener('abort', onAbort);
      if (!transferDone) this.drop();
    }
  }

  /** Close the connection (a transfer cut short leaves it unusable). */
  drop(): void {
    this.client?.close();
    this.client = undefined;
  }
}
