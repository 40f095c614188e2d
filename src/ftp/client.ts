/**
 * `FtpClient`: netkit's FTP client, a thin typed layer over basic-ftp (one task at a time,
 * EPSV/PASV data connections, MLSD with LIST fallback, AUTH TLS and implicit TLS, PASS masked).
 * What this layer adds:
 * - `'trace'` events ({@link TraceEvent}) from basic-ftp's verbose log, so `--trace` and the lab
 *   dashboard see the conversation like every other netkit client — PASS is masked by basic-ftp
 *   and masked again here;
 * - `'progress'` events with the absolute position in the file (resume offsets included);
 * - downloads into `FILE.part`, renamed to `FILE` only when complete, and resumable
 *   (`REST` + `RETR`) from the part file; uploads resumable with `APPE`; both verified with SIZE;
 * - errors as {@link FtpClientError} with stable netkit codes and the FTP reply code;
 * - no working-directory changes: every path is used as given (relative to the login
 *   directory, or absolute).
 *
 * Data connections are passive by default (EPSV, then PASV to the control connection's address,
 * see client-passive.ts); `active` switches to PORT/EPRT, which basic-ftp lacks (client-active.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, rename, stat, unlink, utimes } from 'node:fs/promises';
import { type Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ConnectionOptions } from 'node:tls';
import { Client, type FileInfo, FileType, FTPError } from 'basic-ftp';
import { formatHostPort } from '../core/address.js';
import { writesInPlace } from '../core/datadir.js';
import {
  certificateError,
  connectFailure,
  NETKIT_TRUST_FLAGS,
  NetkitError,
  type NetkitErrorCode,
  systemErrorWords,
  type TrustFlags,
} from '../core/errors.js';
import { TypedEventEmitter } from '../core/events.js';
import { formatBytes } from '../core/format.js';
import { bodyTooLarge, checkDeclaredSize } from '../core/size-limit.js';
import { TokenBucket, throttle } from '../core/throttle.js';
import { type CaCertificates, defaultTrust, sniName } from '../core/tls-trust.js';
import { nextConnId, redactCommand, type TraceEvents, type TraceKind, traceEvent } from '../core/trace.js';
import { type ActiveModeOptions, activeMode } from './client-active.js';
import { ControlWatch, MAX_REPLY_LINE } from './client-control.js';
import { usePassiveMode } from './client-passive.js';
import { FTP_PORT, FTPS_IMPLICIT_PORT } from './ftp-url.js';

export interface FtpClientOptions {
  /** the server's host name or IP address */
  host: string;
  /** default 21, or 990 with implicit TLS */
  port?: number;
  /** default `anonymous` (undefined as well, so that `parseFtpUrl(url).user` can be passed on as it is) */
  user?: string | undefined;
  /** default `netkit@` for anonymous logins (undefined as well, like `user`) */
  password?: string | undefined;
  /** `explicit` = AUTH TLS on the control connection then PROT P; `implicit` = TLS from the first byte */
  tls?: false | 'explicit' | 'implicit';
  /** verify the server certificate (default true) */
  rejectUnauthorized?: boolean;
  /** certificates (PEM) to trust instead of the system roots (default: the system roots) */
  ca?: CaCertificates;
  /** the flags a certificate error names as the way out (default `--ca FILE`, `--insecure`) */
  trustFlags?: TrustFlags;
  /** control and data connection timeout while a command runs (default 30 s; 0 = none) */
  timeoutMs?: number;
  /** upper bound for one directory listing in bytes (default 40 MiB; over it: NETKIT_TOO_LARGE) */
  maxListingBytes?: number;
  /** active mode: the server connects to us (PORT/EPRT); default passive (EPSV, PASV) */
  active?: boolean | ActiveModeOptions;
  /** pace every download and upload to at most this many bytes per second (default: no limit) */
  limitRate?: number;
  /** refuse to download a file larger than this (curl --max-filesize): by SIZE first, else as it comes */
  maxFileSize?: number;
}

export type FtpEntryType = 'file' | 'dir' | 'link' | 'other';

/** One directory entry, as the server listed it (the name is NOT sanitised here). */
export interface FtpEntry {
  name: string;
  type: FtpEntryType;
  size: number;
  /** reliable modification time, UTC (MLSD only) */
  modifiedAt?: Date;
  /** the modification time as the server wrote it (LIST: the server's local time, often no year or seconds) */
  rawModifiedAt?: string;
  /** Unix mode as `rwxr-xr-x`, when listed */
  permissions?: string;
  /** symbolic link target, when listed */
  link?: string;
}

export interface FtpProgress {
  /** remote path */
  name: string;
  direction: 'download' | 'upload';
  /** position in the file: bytes done including a resumed prefix */
  bytes: number;
  /** bytes moved by this transfer */
  transferred: number;
  /** file size when known */
  total?: number;
  /** offset the transfer started at (resume) */
  startAt: number;
}

export interface FtpGetOptions {
  /** resume from `LOCAL.part`, or from `LOCAL` itself when it is a shorter copy (wget -c) */
  resume?: boolean;
  /** set the local modification time: a date, `true` = ask the server (MDTM), false = leave it */
  mtime?: Date | boolean;
}

export interface FtpPutOptions {
  /** resume: append the missing tail with APPE when the remote file is a shorter copy */
  resume?: boolean;
  /** set the remote modification time with MFMT, when the server offers it */
  mtime?: Date;
}

export interface FtpTransferResult {
  /** local path (downloads) or remote path (uploads) written */
  path: string;
  /** final size of the file */
  size: number;
  /** bytes moved by this call */
  transferred: number;
  /** offset the transfer resumed from (0 = from the start) */
  resumedFrom: number;
  /**
   * true when nothing was moved because the destination was already complete (a `resume` whose
   * local, or remote, copy already had every byte); false for every transfer that ran
   */
  alreadyComplete: boolean;
  /** milliseconds spent */
  ms: number;
}

/** An FTP failure: a netkit code to branch on, and the server's reply code when there was one. */
export class FtpClientError extends NetkitError {
  readonly ftpCode: number | undefined;
  constructor(code: NetkitErrorCode, message: string, ftpCode?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'FtpClientError';
    this.ftpCode = ftpCode;
  }
}

/**
 * How the message of a failed transfer says to go on. The client's own messages name
 * `--continue`, the flag of `netkit ftp get|put` ({@link CONTINUE_ADVICE}); a caller that goes on
 * another way — the shell's `reget`, a mirror run again — puts its own words in with
 * {@link withResumeAdvice}, so no message names a flag its command does not have.
 */
export interface ResumeAdvice {
  /** the part file (or the server's shorter copy) can be continued */
  resume: string;
  /** the part file cannot be continued there: the server refused REST */
  restRefused: string;
}

/** The words that end the client's own messages: `netkit ftp get|put --continue`. */
export const CONTINUE_ADVICE: Readonly<ResumeAdvice> = {
  resume: 'resume with --continue',
  restRefused: 'but the server refused REST, so --continue cannot resume it',
};

/** `err` with its {@link CONTINUE_ADVICE} replaced by `advice`; any other error as it is. */
export function withResumeAdvice(err: unknown, advice: ResumeAdvice): unknown {
  if (!(err instanceof NetkitError)) return err;
  for (const key of ['resume', 'restRefused'] as const) {
    const words = CONTINUE_ADVICE[key];
    if (!err.message.endsWith(words)) continue;
    const message = `${err.message.slice(0, -words.length)}${advice[key]}`;
    const cause = { cause: err.cause ?? err };
    return err instanceof FtpClientError
      ? new FtpClientError(err.code, message, err.ftpCode, cause)
      : new NetkitError(err.code, message, cause);
  }
  return err;
}

/** The default bound for one directory listing (basic-ftp's own default). */
export const MAX_LISTING_BYTES = 40 * 1024 * 1024;

/** Listing lines shown in a trace before the rest is summarised. */
const LISTING_TRACE_LINES = 20;

/** How long a broken upload waits for the server's reply that says why (see `runUpload`). */
const UPLOAD_REPLY_WAIT_MS = 1000;

/** A multi-line FTP reply as one line. */
function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/**
 * The last reply in a chunk of control-connection text, as one line. A listing's `150` and its
 * closing `226` can arrive in one chunk; only the closing reply says how the listing ended.
 */
export function finalReply(chunk: string): string {
  const lines = chunk
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  let end = lines.length - 1;
  while (end >= 0 && !/^\d{3}(?: |$)/.test(lines[end]!)) end--;
  if (end < 0) return lines.join(' ');
  let start = end;
  while (start > 0 && !/^\d{3}(?: |$)/.test(lines[start - 1]!)) start--;
  return lines.slice(start, end + 1).join(' ');
}

/**
 * The single place where basic-ftp and socket errors become netkit errors.
 * @param what the step that failed (`connect 127.0.0.1:21`, `get /pub/a.txt`): each message starts with it
 * @param at while connecting: the server (`host:port`) and the trust flags a certificate error names
 */
export function toFtpClientError(
  err: unknown,
  what: string,
  at?: { peer: string; trust?: TrustFlags },
): NetkitError {
  if (err instanceof NetkitError) return err;
  if (err instanceof FTPError) {
    const text = oneLine(err.message);
    const code: NetkitErrorCode = err.code === 530 ? 'NETKIT_AUTH' : 'NETKIT_PROTOCOL';
    return new FtpClientError(code, `${what}: ${text}`, err.code, { cause: err });
  }
  const e = err as NodeJS.ErrnoException;
  const msg = (e?.message ?? String(err)).split('\n')[0]!;
  // the words of every TLS client: the peer when known (connecting), else the step
  const cert = certificateError(
    err,
    at?.peer ?? (e as { host?: string }).host ?? 'the server',
    at?.trust ?? NETKIT_TRUST_FLAGS,
  );
  if (cert)
    return new FtpClientError(cert.code, at?.peer ? cert.message : `${what}: ${cert.message}`, undefined, {
      cause: err,
    });
  // connecting: the words every client uses (`connection refused by HOST:PORT`)
  const unreachable = at?.peer ? connectFailure(err, at.peer) : undefined;
  if (unreachable)
    return new FtpClientError(unreachable.code, unreachable.message, undefined, { cause: err });
  if (e?.code && ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(e.code))
    return new FtpClientError('NETKIT_CONNECT_FAILED', `${what}: ${systemErrorWords(e)}`, undefined, {
      cause: err,
    });
  // basic-ftp's StringWriter stops a listing at maxListingBytes
  const listing = /Maximum bytes exceeded, maxByteLength=(\d+)/.exec(msg);
  if (listing)
    return new FtpClientError(
      'NETKIT_TOO_LARGE',
      `${what}: the listing is larger than ${formatBytes(Number(listing[1]))}, the limit for one directory listing (--max-listing-size)`,
      undefined,
      { cause: err },
    );
  // basic-ftp's bound for one reply, and ours for one line (client-control.ts)
  if (e?.code === 'NETKIT_LINE_TOO_LONG' || /^FTP control response exceeded maximum allowed size/.test(msg))
    return new FtpClientError(
      'NETKIT_LINE_TOO_LONG',
      e?.code === 'NETKIT_LINE_TOO_LONG'
        ? `${what}: ${msg}`
        : `${what}: the server sent a reply of more than ${MAX_REPLY_LINE / 1024} KiB`,
      undefined,
      { cause: err },
    );
  if (/^Timeout/i.test(msg))
    return new FtpClientError('NETKIT_TIMEOUT', `${what}: ${msg}`, undefined, { cause: err });
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR' || e?.code === 'ENOSPC')
    return new FtpClientError('NETKIT_IO', `${what}: ${msg}`, undefined, { cause: err });
  return new FtpClientError('NETKIT_PROTOCOL', `${what}: ${msg}`, undefined, { cause: err });
}

function entryType(t: FileType): FtpEntryType {
  if (t === FileType.File) return 'file';
  if (t === FileType.Directory) return 'dir';
  if (t === FileType.SymbolicLink) return 'link';
  return 'other';
}

function modeString(p: NonNullable<FileInfo['permissions']>): string {
  const rwx = (n: number) => `${n & 4 ? 'r' : '-'}${n & 2 ? 'w' : '-'}${n & 1 ? 'x' : '-'}`;
  return `${rwx(p.user)}${rwx(p.group)}${rwx(p.world)}`;
}

function toEntry(f: FileInfo): FtpEntry {
  const e: FtpEntry = { name: f.name, type: entryType(f.type), size: f.size };
  if (f.modifiedAt && !Number.isNaN(f.modifiedAt.getTime())) e.modifiedAt = f.modifiedAt;
  if (f.rawModifiedAt) e.rawModifiedAt = f.rawModifiedAt;
  if (f.permissions) e.permissions = modeString(f.permissions);
  if (f.link) e.link = f.link;
  return e;
}

/**
 * Size of a regular file, undefined when there is none. Anything else under that name (a
 * symbolic link, a directory) is an error: a part file is never written through a link.
 */
async function fileSize(p: string, followLinks = false): Promise<number | undefined> {
  try {
    const st = await (followLinks ? stat(p) : lstat(p));
    if (!st.isFile()) throw new FtpClientError('NETKIT_IO', `${p} exists and is not a regular file`);
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * basic-ftp's download destination: each chunk goes on to `out` (which stays open: the caller
 * ends it), the next is taken once `out` can hold more and, with a bucket, once the rate allows.
 * With `limit`, a chunk that would take the total past `limit.bytes` is refused with
 * `limit.error()` and not written (a server that sends more than its SIZE cannot fill the disk).
 */
function relay(
  out: Writable,
  opts: {
    bucket?: TokenBucket;
    limit?: { bytes: number; error: () => Error };
    onChunk?: (bytes: number) => void;
  },
): Writable {
  const { bucket, limit, onChunk } = opts;
  let timer: NodeJS.Timeout | undefined;
  let received = 0;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (limit && received > limit.bytes) {
        cb(limit.error());
        return;
      }
      onChunk?.(chunk.length);
      const pass = () => {
        timer = undefined;
        if (out.write(chunk)) cb();
        else out.once('drain', () => cb());
      };
      const wait = bucket?.reserve(chunk.length) ?? 0;
      if (wait > 0) timer = setTimeout(pass, wait);
      else pass();
    },
    destroy(err, cb) {
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });
}

/** The bytes a download from `startAt` may bring when SIZE said `total`, and the error past it. */
function overSize(remote: string, total: number, startAt: number): { bytes: number; error: () => Error } {
  return {
    bytes: total - startAt,
    error: () =>
      new FtpClientError(
        'NETKIT_PROTOCOL',
        `get ${remote}: the server sent more than the ${total} bytes its SIZE reply announced; transfer stopped`,
      ),
  };
}

/** `local` from `start`, at the bucket's rate; destroying the result closes the file. */
function pacedFile(local: string, start: number, bucket: TokenBucket): Readable {
  const file = createReadStream(local, { start });
  const paced = throttle(bucket);
  file.once('error', (err) => paced.destroy(err));
  paced.once('close', () => file.destroy());
  return file.pipe(paced);
}

/** MFMT's time-val: `YYYYMMDDHHMMSS`, UTC. */
function timeVal(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-T:]/g, '');
}

/** What an {@link FtpClient} emits, each event with its listener's arguments. */
export interface FtpClientEvents extends TraceEvents {
  /** bytes moved by a download or upload, as its data connection reports them */
  progress: [progress: FtpProgress];
}

/**
 * An FTP/FTPS client over basic-ftp: open one with {@link FtpClient.connect}, then list, get, put
 * (with resume), mkdir, rename, remove; failures are {@link FtpClientError}s. `close()` when done.
 */
export class FtpClient extends TypedEventEmitter<FtpClientEvents> {
  /** the basic-ftp client underneath, for anything this wrapper does not cover */
  readonly raw: Client;
  readonly host: string;
  readonly port: number;
  private conn = 0;
  private feats: Map<string, string> | undefined;
  /** the last reply chunk from the server (basic-ftp does not return a listing's final reply) */
  private lastReply = '';
  /** the last command sent: a refused REST is told from a refused RETR by it */
  private lastCommand = '';
  /** reply chunks received so far, and who waits for the next one */
  private replies = 0;
  private replyWaiters: Array<() => void> = [];
  /** an upload is running (see `runUpload`) */
  private uploading = false;
  private active = false;
  /** bytes per second for each transfer; 0 = unlimited */
  limitRate: number;
  /** the largest file a download may bring (bytes); undefined = no limit */
  maxFileSize: number | undefined;

  private constructor(opts: FtpClientOptions) {
    super();
    this.host = opts.host;
    this.port = opts.port ?? (opts.tls === 'implicit' ? FTPS_IMPLICIT_PORT : FTP_PORT);
    this.raw = new Client(opts.timeoutMs ?? 30_000, {
      maxListingBytes: opts.maxListingBytes || MAX_LISTING_BYTES,
    });
    // basic-ftp logs every command (PASS as "PASS ###") and every reply chunk through ftp.log
    // when verbose: that is the trace source.
    this.raw.ftp.verbose = true;
    this.raw.ftp.log = (message: string) => this.onLog(message);
    this.keepControlAfterDataError();
    this.watchControl();
    this.setActive(opts.active ?? false);
    this.limitRate = opts.limitRate ?? 0;
    this.maxFileSize = opts.maxFileSize;
  }

  /** SIZE of `remote`, refused with NETKIT_TOO_LARGE when over `maxFileSize` (before any transfer). */
  private async sizeWithinLimit(remote: string): Promise<number | undefined> {
    const total = await this.size(remote);
    if (this.maxFileSize !== undefined) checkDeclaredSize(total, this.maxFileSize);
    return total;
  }

  /**
   * What a download of `remote` from `startAt` may bring: no more than SIZE announced, and no more
   * than `maxFileSize` when the server gave no SIZE.
   */
  private downloadLimit(
    remote: string,
    total: number | undefined,
    startAt: number,
  ): { bytes: number; error: () => Error } | undefined {
    const max = this.maxFileSize;
    if (total !== undefined) return overSize(remote, total, startAt);
    if (max !== undefined) return { bytes: max - startAt, error: () => bodyTooLarge(max) };
    return undefined;
  }

  /** A fresh bucket for one transfer when a rate is set (curl's --limit-rate is per transfer too). */
  private pace(): TokenBucket | undefined {
    return this.limitRate > 0 ? new TokenBucket(this.limitRate) : undefined;
  }

  /** Switch data connections between passive (`false`: EPSV, then PASV) and active mode (PORT/EPRT). */
  setActive(active: boolean | ActiveModeOptions): void {
    const note = (text: string) => this.trace('info', text);
    this.active = active !== false;
    if (active === false) usePassiveMode(this.raw, note);
    else this.raw.prepareTransfer = activeMode(active === true ? {} : active, note);
  }

  /** whether data connections are active (the server connects to us) */
  get isActive(): boolean {
    return this.active;
  }

  /**
   * Connect, (AUTH TLS,) log in, binary mode, (PROT P). Closes the connection again when any step
   * fails. The steps of basic-ftp's `access()` are taken one by one so that a refused AUTH TLS or
   * PROT P is reported as what it is, not as a failed login or a reset data connection.
   */
  static async connect(opts: FtpClientOptions, onCreate?: (c: FtpClient) => void): Promise<FtpClient> {
    const client = new FtpClient(opts);
    onCreate?.(client);
    const user = opts.user ?? 'anonymous';
    const where = formatHostPort(client.host, client.port);
    client.conn = nextConnId();
    client.trace('connect', opts.tls ? `tls=${opts.tls}` : '', where);
    const secureOptions: ConnectionOptions = {
      rejectUnauthorized: opts.rejectUnauthorized !== false,
      host: opts.host, // for data connections too (basic-ftp issue 166)
      // basic-ftp passes no servername to tls.connect, and Node then sends no SNI: on the control
      // connection (AUTH TLS, implicit) and, through these options, on every data connection
      servername: sniName(opts.host),
    };
    if (opts.ca) secureOptions.ca = opts.ca;
    else Object.assign(secureOptions, defaultTrust());
    const raw = client.raw;
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        client.close();
        throw toFtpClientError(err, what, { peer: where, trust: opts.trustFlags ?? NETKIT_TRUST_FLAGS });
      }
    };
    await step(`connect ${where}`, () =>
      opts.tls === 'implicit'
        ? raw.connectImplicitTLS(opts.host, client.port, secureOptions)
        : raw.connect(opts.host, client.port),
    );
    if (opts.tls === 'explicit')
      await step(`connect ${where}`, async () => {
        try {
          await raw.useTLS(secureOptions);
        } catch (err) {
          // vsftpd without TLS answers 530: that is not a login failure
          if (err instanceof FTPError)
            throw new FtpClientError(
              'NETKIT_PROTOCOL',
              `connect ${where}: the server does not offer TLS (AUTH TLS refused: ${oneLine(err.message)})`,
              err.code,
              { cause: err },
            );
          throw err;
        }
      });
    const password = opts.password ?? (user === 'anonymous' || user === 'ftp' ? 'netkit@' : '');
    await step(`connect ${where}`, async () => {
      await raw.sendIgnoringError('OPTS UTF8 ON');
      try {
        await raw.login(user, password);
      } catch (err) {
        // the user quoted: "bob@x" must not read as bob@x@host
        if (err instanceof FTPError && err.code === 530)
          throw new FtpClientError(
            'NETKIT_AUTH',
            `login failed for user "${user}" at ${where}: ${oneLine(err.message)}`,
            530,
            {
              cause: err,
            },
          );
        throw err;
      }
      await raw.useDefaultSettings();
    });
    // basic-ftp sends PROT P but ignores a refusal, then fails on the first data connection
    // with a bare socket error: ask again and refuse clearly, as curl --ssl-reqd does
    if (opts.tls) {
      const prot = await step(`connect ${where}`, () => raw.sendIgnoringError('PROT P'));
      if (prot.code >= 400) {
        client.close();
        throw new FtpClientError(
          'NETKIT_PROTOCOL',
          `connect ${where}: the server refused PROT P, encrypted data connections (${oneLine(prot.message)})`,
          prot.code,
        );
      }
    }
    return client;
  }

  private trace(kind: TraceKind, text: string, peer?: string): void {
    traceEvent(this, 'ftp', this.conn, kind, text, peer);
  }

  private onLog(message: string): void {
    if (message.startsWith('> ')) this.lastCommand = message.slice(2);
    if (message.startsWith('< ')) {
      this.lastReply = message.slice(2);
      this.replies += 1;
      for (const wake of this.replyWaiters.splice(0)) wake();
    }
    if (this.listenerCount('trace') === 0) return;
    if (message.startsWith('> ')) {
      const cmd = message.slice(2);
      this.trace('out', /^PASS\b/i.test(cmd) ? 'PASS ****' : redactCommand(cmd));
    } else if (message.startsWith('< ')) {
      for (const line of message.slice(2).split(/\r?\n/)) if (line !== '') this.trace('in', line);
    } else if (this.active && /^(Downloading from|Uploading to) /.test(message)) {
      // basic-ftp describes the stand-in socket before the server has connected: client-active.ts
      // traces the real connection instead
    } else {
      // multi-line info is listing data: show its start, not thousands of lines
      const lines = message.split(/\r?\n/).filter((l) => l !== '');
      for (const line of lines.slice(0, LISTING_TRACE_LINES)) this.trace('info', line);
      if (lines.length > LISTING_TRACE_LINES)
        this.trace('info', `… ${lines.length - LISTING_TRACE_LINES} more listing lines`);
    }
  }

  /** Features from FEAT (upper-case keys); asked once, then cached. */
  async features(): Promise<ReadonlyMap<string, string>> {
    this.feats ??= await this.run('FEAT', () => this.raw.features());
    return this.feats;
  }

  get closed(): boolean {
    return this.raw.closed;
  }

  /** Send QUIT and close. */
  close(): void {
    if (!this.raw.closed) {
      this.raw.close();
      this.trace('disconnect', '');
    }
  }

  /**
   * Stop what is running at once and close (Ctrl-C). The data connection is reset, not closed: in
   * stream mode a clean close is how an upload ends, so the server would take the part it got for
   * the whole file (226, its upload hooks run); reset, it answers 426 and keeps the part for
   * `--continue` (APPE). Over TLS the data connection has no TCP handle of its own and just closes.
   */
  abort(): void {
    const data = this.raw.ftp.dataSocket as { resetAndDestroy?: () => void } | undefined;
    try {
      data?.resetAndDestroy?.();
    } catch {
      // a TLS (or active-mode) data connection: closed with the client below
    }
    this.close();
  }

  /** Send a raw command; FTP errors (≥ 400) come back as a reply, not a rejection. */
  async command(line: string): Promise<{ code: number; message: string }> {
    try {
      return await this.raw.sendIgnoringError(line);
    } catch (err) {
      throw toFtpClientError(err, line.split(' ')[0]!);
    }
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toFtpClientError(err, what);
    }
  }

  /**
   * basic-ftp closes the whole connection (QUIT) when a data socket fails. During an upload that
   * loses the reply the server sends right after cutting the data connection — the reason (see
   * {@link runUpload}). So then the close waits for the next reply, at most
   * {@link UPLOAD_REPLY_WAIT_MS}, and does not happen at all when that reply is the server's
   * refusal: the control connection is fine, and stays usable (the shell goes on).
   */
  private keepControlAfterDataError(): void {
    const ctx = this.raw.ftp;
    const close = ctx.closeWithError.bind(ctx);
    ctx.closeWithError = (err: Error) => {
      if (!this.uploading || !/\(data socket\)$/.test(err?.message ?? '') || ctx.closed) {
        close(err);
        return;
      }
      const timer = setTimeout(() => close(err), UPLOAD_REPLY_WAIT_MS);
      this.replyWaiters.push(() => {
        clearTimeout(timer);
        if (!/^[45]\d\d /.test(finalReply(this.lastReply))) close(err);
      });
    };
  }

  /**
   * Put a {@link ControlWatch} in front of basic-ftp's reader of the control connection: an endless
   * line, or junk that never completes a reply, closes the connection instead of holding the
   * command forever (basic-ftp's idle timeout restarts with every byte).
   */
  private watchControl(): void {
    const ctx = this.raw.ftp as unknown as {
      _onControlSocketData(chunk: string): void;
      closeWithError(err: Error): void;
      socket: { timeout?: number };
    };
    // a basic-ftp release without this reader keeps its own behaviour
    if (typeof ctx._onControlSocketData !== 'function') return;
    const watch = new ControlWatch();
    const read = ctx._onControlSocketData.bind(ctx);
    ctx._onControlSocketData = (chunk: string) => {
      const stop = watch.feed(chunk, Date.now(), ctx.socket.timeout ?? 0);
      if (stop) ctx.closeWithError(stop);
      else read(chunk);
    };
  }

  /**
   * {@link run} for an upload. When its data connection breaks, the server has usually said why on
   * the control connection — 552 past its size limit, 452 for a full disk, 426 — but basic-ftp
   * rejects on the socket error ("Premature close", EPIPE) before that reply is read, often before
   * it has even arrived. So wait up to {@link UPLOAD_REPLY_WAIT_MS} for the server's final reply and
   * report that instead, as curl does (exit 70 for a 552).
   */
  private async runUpload<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const before = this.replies;
    this.uploading = true;
    try {
      return await fn();
    } catch (err) {
      const e = toFtpClientError(err, what);
      if (e instanceof FtpClientError && e.ftpCode !== undefined) throw e;
      const refusal = (): string | undefined => {
        const last = finalReply(this.lastReply);
        return this.replies > before && /^[45]\d\d /.test(last) ? last : undefined;
      };
      if (!refusal() && !this.closed)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, UPLOAD_REPLY_WAIT_MS);
          this.replyWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      const reply = refusal();
      if (!reply) throw e;
      throw new FtpClientError('NETKIT_PROTOCOL', `${what}: ${reply}`, Number(reply.slice(0, 3)), {
        cause: err,
      });
    } finally {
      this.uploading = false;
    }
  }

  /**
   * List a directory (MLSD when offered, else LIST). `''` = the login directory. An empty listing
   * is checked, because many servers (vsftpd) answer LIST of a missing or unreadable directory
   * with an empty listing and a 226: a missing directory must never look like an empty one.
   * A listing the server cut short is an error (NETKIT_TOO_LARGE), never a whole directory:
   * pure-ftpd lists at most 10,000 entries by default (its `-L`) and says so only in the final
   * reply, `226 Output truncated to 10000 matches` — taken as complete, `mirror --delete` would
   * remove local files that the server holds but did not list.
   */
  async list(path = ''): Promise<FtpEntry[]> {
    const what = `list ${path || '.'}`;
    this.lastReply = '';
    const files = await this.run(what, () => this.raw.list(path));
    const done = finalReply(this.lastReply);
    if (/^2\d\d\b.*\btruncated\b/i.test(done))
      throw new FtpClientError(
        'NETKIT_TOO_LARGE',
        `${what}: the server sent only part of the listing (${done})`,
        Number(done.slice(0, 3)),
      );
    if (files.length === 0) {
      if (path !== '') await this.requireDirectory(path, 'list');
      // a directory it could not read, as vsftpd says: "226 Transfer done (but failed to open directory)."
      if (/^2\d\d\b.*\bfail/i.test(done)) throw new FtpClientError('NETKIT_IO', `${what}: ${done}`);
    }
    return files.map(toEntry);
  }

  /** SIZE of a file, or undefined when the server cannot tell (missing file, no SIZE). */
  async size(path: string): Promise<number | undefined> {
    const res = await this.command(`SIZE ${path}`);
    if (res.code !== 213) return undefined;
    const n = Number.parseInt(res.message.slice(4), 10);
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  }

  /** MDTM of a file, or undefined. */
  async lastModified(path: string): Promise<Date | undefined> {
    const res = await this.command(`MDTM ${path}`);
    const m = /^213 (\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)/.exec(res.message);
    if (!m) return undefined;
    return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }

  /** Set a remote file's modification time with MFMT; false when the server does not offer it. */
  async setLastModified(path: string, date: Date): Promise<boolean> {
    if (!(await this.features()).has('MFMT')) return false;
    const res = await this.command(`MFMT ${timeVal(date)} ${path}`);
    return res.code === 213;
  }

  private track(name: string, direction: 'download' | 'upload', startAt: number, total?: number): void {
    this.raw.trackProgress((info) => {
      if (info.type === 'list') return;
      // basic-ftp counts socket bytes: with TLS a little more than the file, so clamp to the size
      const moved = total === undefined ? info.bytes : Math.min(info.bytes, Math.max(0, total - startAt));
      const p: FtpProgress = { name, direction, bytes: startAt + moved, transferred: moved, startAt };
      if (total !== undefined) p.total = total;
      this.emit('progress', p);
    });
  }

  /**
   * Download `remote` to the local file `local`, through `local.part` (renamed when complete).
   * With `resume`, an existing part file (or a shorter `local`) is continued with REST.
   */
  async get(remote: string, local: string, opts: FtpGetOptions = {}): Promise<FtpTransferResult> {
    const t0 = Date.now();
    // a device or FIFO (`-o /dev/null`, a named pipe) is written in place, not through a part file
    if (await writesInPlace(local)) {
      if (opts.resume)
        throw new FtpClientError('NETKIT_INVALID_INPUT', `${local} is not a regular file: nothing to resume`);
      const out = createWriteStream(local, { flags: 'w' });
      try {
        const r = await this.getStream(remote, out);
        out.end();
        await finished(out);
        return { ...r, path: local, resumedFrom: 0, alreadyComplete: false, ms: Date.now() - t0 };
      } finally {
        out.destroy();
      }
    }
    const part = `${local}.part`;
    const total = await this.sizeWithinLimit(remote).catch(async (err: unknown) => {
      // resuming: the part file is untouched, and the message says what it holds
      throw opts.resume ? await this.keptPart(toFtpClientError(err, `get ${remote}`), part, undefined) : err;
    });
    let startAt = 0;
    let havePart = false;
    // also when not resuming: a part file that is a link or a directory is an error, not a target
    const partSize = await fileSize(part);
    if (opts.resume) {
      if (partSize !== undefined) {
        startAt = partSize;
        havePart = true;
      } else {
        const localSize = await fileSize(local);
        if (localSize !== undefined && total !== undefined) {
          if (localSize === total)
            return {
              path: local,
              size: total,
              transferred: 0,
              resumedFrom: total,
              alreadyComplete: true,
              ms: 0,
            };
          if (localSize < total) {
            await rename(local, part);
            startAt = localSize;
            havePart = true;
          }
        }
      }
      if (total !== undefined && (startAt > total || (!havePart && (await fileSize(local)) !== undefined)))
        throw new FtpClientError(
          'NETKIT_EXISTS',
          `get ${remote}: local ${havePart ? part : local} is larger than the server's file (${total} bytes); cannot resume`,
        );
    }
    let transferred = 0;
    if (!havePart || total === undefined || startAt < total) {
      this.track(remote, 'download', startAt, total);
      try {
        await this.downloadToPart(remote, part, startAt, total);
      } finally {
        this.raw.trackProgress();
      }
      const got = (await fileSize(part)) ?? 0;
      transferred = got - startAt;
      if (total !== undefined && got !== total)
        throw new FtpClientError(
          'NETKIT_PROTOCOL',
          `get ${remote}: transfer ended at ${got} of ${total} bytes; ${part} kept, ${CONTINUE_ADVICE.resume}`,
        );
    }
    await rename(part, local);
    const size = (await fileSize(local)) ?? 0;
    const mtime = opts.mtime === true ? await this.lastModified(remote) : opts.mtime || undefined;
    if (mtime) await utimes(local, new Date(), mtime);
    return {
      path: local,
      size,
      transferred,
      resumedFrom: startAt,
      alreadyComplete: false,
      ms: Date.now() - t0,
    };
  }

  /**
   * RETR `remote` into `part` from `startAt`. basic-ftp's own file download closes the file while
   * writes are still queued when a transfer fails (the part kept 64 KiB of 300 KB received), so
   * the file stream is ours, fed through a front that hands every chunk on at once, and flushed
   * before a failure is reported — with how far it got and how to go on.
   */
  private async downloadToPart(remote: string, part: string, startAt: number, total?: number): Promise<void> {
    const file = createWriteStream(part, { flags: startAt > 0 ? 'r+' : 'w', start: startAt });
    const limit = this.downloadLimit(remote, total, startAt);
    const front = relay(file, { bucket: this.pace(), ...(limit ? { limit } : {}) });
    file.on('error', (err) => front.destroy(err));
    let failure: unknown;
    try {
      await this.raw.downloadTo(front, remote, startAt);
    } catch (err) {
      failure = err;
    }
    file.end();
    await finished(file).catch((err: unknown) => {
      failure ??= err;
    });
    if (failure === undefined) return;
    // nothing received and nothing from an earlier run: no empty part file left behind
    if (startAt === 0 && ((await fileSize(part).catch(() => undefined)) ?? 0) === 0)
      await unlink(part).catch(() => {});
    throw await this.keptPart(toFtpClientError(failure, `get ${remote}`), part, total);
  }

  /**
   * The error of a download that failed with `part` holding bytes — this run's, an earlier run's
   * (`--continue`), or both — saying so: how many, and whether `--continue` can go on from them.
   * The same words whether the failure came mid-transfer or before any new byte (a refused REST, a
   * data connection that never opened, a closed control connection, a timeout). No part file, or
   * an empty one: the error as it is.
   */
  private async keptPart(err: NetkitError, part: string, total: number | undefined): Promise<NetkitError> {
    const got = (await fileSize(part).catch(() => undefined)) ?? 0;
    if (got === 0) return err;
    const ftpCode = err instanceof FtpClientError ? err.ftpCode : undefined;
    // a server that refuses REST refuses it the next time too: a resume cannot work there
    const restRefused = ftpCode !== undefined && ftpCode >= 500 && /^REST\b/i.test(this.lastCommand);
    const next = restRefused ? CONTINUE_ADVICE.restRefused : CONTINUE_ADVICE.resume;
    return new FtpClientError(
      err.code,
      `${err.message}; ${part} kept (${got}${total !== undefined ? ` of ${total}` : ''} bytes), ${next}`,
      ftpCode,
      { cause: err.cause ?? err },
    );
  }

  /** Download `remote` into a stream that stays open (stdout): no resume, no part file. */
  async getStream(remote: string, out: Writable): Promise<FtpTransferResult> {
    const t0 = Date.now();
    const total = await this.sizeWithinLimit(remote);
    let transferred = 0;
    // basic-ftp ends its destination when done: give it a counting front that leaves `out` open
    const limit = this.downloadLimit(remote, total, 0);
    const front = relay(out, {
      bucket: this.pace(),
      ...(limit ? { limit } : {}),
      onChunk: (n) => {
        transferred += n;
      },
    });
    const onOutError = (err: Error) => front.destroy(err);
    out.once('error', onOutError);
    this.track(remote, 'download', 0, total);
    try {
      await this.run(`get ${remote}`, () => this.raw.downloadTo(front, remote));
    } finally {
      this.raw.trackProgress();
      out.off('error', onOutError);
    }
    if (total !== undefined && transferred !== total)
      throw new FtpClientError(
        'NETKIT_PROTOCOL',
        `get ${remote}: transfer ended at ${transferred} of ${total} bytes`,
      );
    return {
      path: remote,
      size: transferred,
      transferred,
      resumedFrom: 0,
      alreadyComplete: false,
      ms: Date.now() - t0,
    };
  }

  /**
   * Upload the local file `local` to `remote`. With `resume`, a shorter remote copy is completed
   * with APPE from its size. The result is checked with SIZE when the server offers it.
   */
  async put(local: string, remote: string, opts: FtpPutOptions = {}): Promise<FtpTransferResult> {
    const t0 = Date.now();
    const localSize = await fileSize(local, true);
    if (localSize === undefined) throw new FtpClientError('NETKIT_NOT_FOUND', `put: ${local} is not a file`);
    let startAt = 0;
    if (opts.resume) {
      const remoteSize = await this.size(remote);
      if (remoteSize === localSize) {
        if (opts.mtime) await this.setLastModified(remote, opts.mtime);
        return {
          path: remote,
          size: localSize,
          transferred: 0,
          resumedFrom: localSize,
          alreadyComplete: true,
          ms: 0,
        };
      }
      if (remoteSize !== undefined && remoteSize > localSize)
        throw new FtpClientError(
          'NETKIT_EXISTS',
          `put ${remote}: the server's file has ${remoteSize} bytes, more than ${local} (${localSize}); cannot resume`,
        );
      startAt = remoteSize ?? 0;
    }
    this.track(remote, 'upload', startAt, localSize);
    const bucket = this.pace();
    // paced: the file through a throttle; else basic-ftp reads the file itself
    const source = bucket ? pacedFile(local, startAt, bucket) : undefined;
    try {
      await this.runUpload(`put ${remote}`, () =>
        startAt > 0
          ? this.raw.appendFrom(source ?? local, remote, source ? {} : { localStart: startAt })
          : this.raw.uploadFrom(source ?? local, remote),
      );
    } finally {
      source?.destroy();
      this.raw.trackProgress();
    }
    const after = await this.size(remote);
    if (after !== undefined && after !== localSize)
      throw new FtpClientError(
        'NETKIT_PROTOCOL',
        `put ${remote}: the server has ${after} of ${localSize} bytes; ${CONTINUE_ADVICE.resume}`,
      );
    if (opts.mtime) await this.setLastModified(remote, opts.mtime);
    return {
      path: remote,
      size: localSize,
      transferred: localSize - startAt,
      resumedFrom: startAt,
      alreadyComplete: false,
      ms: Date.now() - t0,
    };
  }

  /**
   * Upload what `source` yields to `remote` (STOR), paced like every transfer; `source` is read
   * to its end. No resume and no size check: the caller knows what it sent.
   */
  async putStream(source: Readable, remote: string): Promise<void> {
    const bucket = this.pace();
    const paced = bucket ? source.pipe(throttle(bucket)) : source;
    if (bucket) source.once('error', (err) => paced.destroy(err));
    this.track(remote, 'upload', 0, undefined);
    try {
      await this.runUpload(`put ${remote}`, () => this.raw.uploadFrom(paced, remote));
    } finally {
      if (paced !== source) paced.destroy();
      this.raw.trackProgress();
    }
  }

  /** Delete a file (DELE). */
  async remove(path: string): Promise<void> {
    await this.run(`rm ${path}`, () => this.raw.remove(path));
  }

  /** Remove an empty directory (RMD). */
  async removeEmptyDir(path: string): Promise<void> {
    await this.run(`rmdir ${path}`, () => this.raw.removeEmptyDir(path));
  }

  /** Create a directory (MKD); with `parents`, every missing parent too and no error if it exists. */
  async mkdir(path: string, opts: { parents?: boolean } = {}): Promise<void> {
    if (!opts.parents) {
      await this.run(`mkdir ${path}`, () => this.raw.send(`MKD ${path}`));
      return;
    }
    const segs = path.split('/');
    let prefix = '';
    let last: { code: number; message: string } | undefined;
    for (let i = 0; i < segs.length; i++) {
      prefix = i === 0 ? segs[0]! : `${prefix}/${segs[i]}`;
      if (segs[i] === '' || segs[i] === '.') continue;
      last = await this.command(`MKD ${prefix}`);
    }
    if (last && last.code >= 400 && !(await this.isDirectory(path)))
      throw new FtpClientError('NETKIT_PROTOCOL', `mkdir ${path}: ${last.message.trim()}`, last.code);
  }

  /** Is `path` a directory? (CWD there and back to where the session was.) */
  async isDirectory(path: string): Promise<boolean> {
    try {
      await this.requireDirectory(path);
      return true;
    } catch (err) {
      if (err instanceof FtpClientError && err.code === 'NETKIT_NOT_FOUND') return false;
      throw err;
    }
  }

  /**
   * Fail with the server's CWD reply (`what PATH: 550 …`, NETKIT_NOT_FOUND) unless `path` is a
   * directory, as curl and lftp check before listing. The session's directory is left unchanged.
   */
  async requireDirectory(path: string, what = 'cd'): Promise<void> {
    const here = await this.run('pwd', () => this.raw.pwd());
    const res = await this.command(`CWD ${path}`);
    if (res.code >= 400)
      throw new FtpClientError('NETKIT_NOT_FOUND', `${what} ${path}: ${oneLine(res.message)}`, res.code);
    await this.run('cd', () => this.raw.cd(here));
  }

  /** Rename or move (RNFR/RNTO). */
  async rename(from: string, to: string): Promise<void> {
    await this.run(`mv ${from}`, () => this.raw.rename(from, to));
  }
}
