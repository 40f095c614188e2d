/**
 * curl's transfer flags for `netkit http METHOD URL`: where the body goes (`-o`, `-O`,
 * `--output-dir`, `--create-dirs`, `-C`), what is asked for (`-r`, `-e`), how often (`--retry…`),
 * how fast (`--limit-rate`, `--connect-timeout`), and what is said about it (`-D`, `-w`, `-s`, `-S`).
 * The rules live in pure modules of src/http (remote-name, range-request, retry-policy,
 * rate-limit, write-out); this file runs the attempts and writes their output.
 */
import { mkdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, Option } from 'commander';
import { errorMessage, NetkitError, usageError } from '../core/errors.js';
import { capBytes, checkDeclaredSize, tap } from '../core/size-limit.js';
import { appendStream, writeStreamAtomic } from '../http/atomic-write.js';
import { decodeBody } from '../http/content-encoding.js';
import { retryAfterMs } from '../http/download/probe.js';
import { bodyProgress } from '../http/http-error.js';
import { byteStringToText } from '../http/latin1.js';
import {
  parseContinueAt,
  parseRangeOption,
  type ResumeVerdict,
  resumeVerdict,
} from '../http/range-request.js';
import { limitRate } from '../http/rate-limit.js';
import { inOutputDir, remoteName } from '../http/remote-name.js';
import {
  DEFAULT_USER_AGENT,
  type HttpClient,
  type HttpRequestOptions,
  type HttpResponse,
  httpError,
  parseRequestUrl,
} from '../http/request.js';
import {
  classifyError,
  decideRetry,
  initialRetryState,
  type RetryDecision,
  type RetryOptions,
} from '../http/retry-policy.js';
import { formatWriteOut, headerBytes, type WriteOutInfo, writeOutFormatFromFile } from '../http/write-out.js';
import { readWhole } from './http-data.js';
import {
  allHeads,
  bodyToStdout,
  statusBlock,
  trailerBlock,
  uploadProgress,
  withHeadsAround,
  withProgress,
} from './http-output.js';
import { writeStdout } from './stdout.js';
import { durationOption, formatDuration, parseBytes, parseNonNegative, parseRateOption } from './util.js';

/** The flags as commander gives them. */
export interface TransferFlags {
  output?: string;
  remoteName?: boolean;
  outputDir?: string;
  createDirs?: boolean;
  range?: string;
  continueAt?: string;
  referer?: string;
  writeOut?: string;
  retry: number;
  retryDelay?: number;
  retryMaxTime?: number;
  retryAllErrors?: boolean;
  retryConnrefused?: boolean;
  dumpHeader?: string;
  connectTimeout?: number;
  limitRate?: number;
  maxFilesize?: number;
  silent?: boolean;
  showError?: boolean;
}

/** Add the transfer flags to a request command. */
export function addTransferOptions(cmd: Command): void {
  cmd
    .option(
      '-O, --remote-name',
      'save the body (atomically) under the last segment of the URL path, not URL-decoded, as curl does',
    )
    .option('--output-dir <dir>', 'put the -o / -O file in DIR (joined as DIR/FILE, as in curl)')
    .option('--create-dirs', 'create the missing directories of the -o / -O path')
    .option(
      '-r, --range <range>',
      'ask for these bytes only: 0-499, 500-, -500, 0-0,-1 (a server may send them all: -i shows 200 or 206)',
    )
    .option(
      '-C, --continue-at <offset>',
      "resume the -o / -O file at byte OFFSET, appending; '-' = from the size of the file already there",
    )
    .option(
      '-e, --referer <url>',
      "Referer header; 'URL;auto' or ';auto': also the previous URL on each -L hop",
    )
    .option(
      '-w, --write-out <format>',
      'print FORMAT after the transfer: %{http_code} %{size_download} %{time_total} %{url_effective} %header{name} %{json} … (@FILE reads it)',
    )
    .addOption(
      new Option(
        '--retry <n>',
        'retry a timeout, an unresolved host or HTTP 408/429/500/502/503/504 N times (as curl)',
      )
        .argParser(parseNonNegative)
        .default(0),
    )
    .addOption(
      durationOption(
        '--retry-delay <duration>',
        'wait this long before each retry, instead of 1s doubling up to 10m (a Retry-After wins)',
      ),
    )
    .addOption(durationOption('--retry-max-time <duration>', 'start no retry once this long has passed'))
    .option('--retry-all-errors', 'with --retry: retry every failure (with -f, HTTP errors too)')
    .option('--retry-connrefused', 'with --retry: retry a refused connection too')
    .option(
      '-D, --dump-header <file>',
      "write the response headers (every hop, 1xx and trailers too) to FILE; '-' = stdout",
    )
    .addOption(
      durationOption(
        '--connect-timeout <duration>',
        'time limit for connecting, TLS handshake included (--timeout when not given)',
      ),
    )
    .option(
      '--max-filesize <size>',
      'refuse a body larger than SIZE (10M, 1G): before reading when its length is announced, else once it grows past it',
      parseBytes,
    )
    .addOption(
      new Option('--limit-rate <rate>', 'read the body at most RATE bytes per second: 100K, 1M').argParser(
        parseRateOption,
      ),
    )
    .option('-s, --silent', 'no progress bar and no warnings; errors only with -S (the exit status stays)')
    .option('-S, --show-error', 'with -s: print the error line all the same');
}

/** What the flags ask for, checked before anything is sent. */
export interface TransferPlan {
  /** the body's file; undefined: standard output */
  file?: string;
  /** `-o -`: binary goes to a terminal too */
  binaryToTerminal: boolean;
  createDirs: boolean;
  /** what follows `bytes=` (-r) */
  range?: string;
  /** -C */
  resume?: number | 'end';
  writeOut?: string;
  retry: RetryOptions;
  dumpHeader?: string;
  limitRate?: number;
  maxFilesize?: number;
  silent: boolean;
  showError: boolean;
}

/** The plan for `url` (its scheme already added); usage errors before any request. */
export async function planTransfer(
  url: string,
  flags: TransferFlags,
  hasBody: boolean,
): Promise<TransferPlan> {
  const silent = flags.silent === true;
  if (flags.output !== undefined && flags.remoteName)
    throw usageError('give -o FILE or -O, not both (one URL, one output)');
  let file: string | undefined;
  if (flags.remoteName) {
    const name = remoteName(url);
    if (name === undefined)
      throw usageError(
        `-O: the URL names no file to save (it ends in '/', or in '.', '..' or control characters): use -o FILE`,
      );
    file = inOutputDir(name, flags.outputDir);
  } else if (flags.output !== undefined && flags.output !== '-')
    file = inOutputDir(flags.output, flags.outputDir);
  if (file !== undefined && !flags.createDirs) {
    const dir = path.dirname(file);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory())
      throw new NetkitError(
        'NETKIT_IO',
        `cannot write ${file}: ${info ? 'not a directory' : 'no such directory'}: ${dir} (--create-dirs creates it)`,
      );
  }

  let range: string | undefined;
  if (flags.range !== undefined) {
    const parsed = parseRangeOption(flags.range);
    if (parsed.warning) warn(silent, parsed.warning);
    range = parsed.value;
  }
  const resume = flags.continueAt === undefined ? undefined : parseContinueAt(flags.continueAt);
  if (range !== undefined && resume !== undefined)
    throw usageError('give -r or -C, not both (-C asks for the rest of the file from its offset)');
  if (hasBody && (range !== undefined || resume !== undefined))
    throw usageError(
      `${range !== undefined ? '-r' : '-C'} asks for part of a response, not with a request body (curl turns it into a Content-Range upload, which netkit does not do)`,
    );

  let writeOut = flags.writeOut;
  if (writeOut?.startsWith('@'))
    writeOut = writeOutFormatFromFile((await readWhole(writeOut.slice(1))).toString());

  return {
    ...(file !== undefined ? { file } : {}),
    binaryToTerminal: flags.output === '-',
    createDirs: flags.createDirs === true,
    ...(range !== undefined ? { range } : {}),
    ...(resume !== undefined ? { resume } : {}),
    ...(writeOut !== undefined ? { writeOut } : {}),
    retry: {
      retries: flags.retry,
      ...(flags.retryDelay !== undefined ? { delayMs: flags.retryDelay } : {}),
      ...(flags.retryMaxTime !== undefined ? { maxTimeMs: flags.retryMaxTime } : {}),
      connRefused: flags.retryConnrefused === true,
      allErrors: flags.retryAllErrors === true,
    },
    ...(flags.dumpHeader !== undefined ? { dumpHeader: flags.dumpHeader } : {}),
    ...(flags.limitRate ? { limitRate: flags.limitRate } : {}),
    ...(flags.maxFilesize !== undefined ? { maxFilesize: flags.maxFilesize } : {}),
    silent,
    showError: flags.showError === true,
  };
}

/** `-e URL`, `-e 'URL;auto'`, `-e ';auto'` as curl splits it (at the first ';auto'). */
export function parseReferer(value: string): { referer?: string; autoReferer: boolean } {
  const i = value.indexOf(';auto');
  const referer = i === -1 ? value : value.slice(0, i);
  return { ...(referer !== '' ? { referer } : {}), autoReferer: i !== -1 };
}

/** A warning on stderr, unless -s. */
export function warn(silent: boolean, text: string): void {
  if (!silent) process.stderr.write(`netkit: warning: ${text}\n`);
}

/** One run of a request, with its retries. */
export interface TransferRun {
  client: HttpClient;
  request: HttpRequestOptions;
  plan: TransferPlan;
  /** the method as sent */
  method: string;
  /** -i (or HEAD): status lines and headers first, on stdout or in the -o / -O file (as curl) */
  include: boolean;
  fail: boolean;
  compressed: boolean;
  /** -m, for each attempt (curl's --max-time is per attempt too) */
  maxTimeMs?: number;
  /** Ctrl-C: stops the attempt (an `-o` temp file is removed) and any retry */
  signal?: AbortSignal;
}

export interface TransferResult {
  /** the last response (undefined when the last attempt got none) */
  res?: HttpResponse;
  /** body bytes received in the last attempt, before any decoding (curl's size_download) */
  downloaded: number;
  /** body bytes written */
  written: number;
  /** request bytes written in the last attempt (curl's size_request) */
  sizeRequest: number;
  /** when the last attempt started and ended (performance.now()) */
  startedAt: number;
  endedAt: number;
  /** retries made */
  retries: number;
  /** the Range sent in the last attempt (after `bytes=`) */
  range?: string;
  /** the offset resumed at, when -C resumed */
  resumedAt?: number;
  verdict?: ResumeVerdict;
  /** why the transfer failed */
  error?: unknown;
}

/**
 * Run the request, retrying as --retry says, and deliver the last response: `-i` and `-D`
 * headers, then the body to stdout, to a file atomically, or appended with -C. Never throws:
 * the failure is in `error`, so that `-w` can still report.
 */
export async function runTransfer(t: TransferRun): Promise<TransferResult> {
  const { plan } = t;
  let state = initialRetryState(plan.retry, performance.now());
  let retries = 0;
  let firstOffset: number | undefined;
  let stdoutUsed = false;
  for (;;) {
    const startedAt = performance.now();
    const sentBefore = t.client.bytesWritten();
    const result: TransferResult = {
      downloaded: 0,
      written: 0,
      sizeRequest: 0,
      startedAt,
      endedAt: startedAt,
      retries,
    };
    const finish = (extra: Partial<TransferResult> = {}): TransferResult => ({
      ...result,
      ...extra,
      endedAt: performance.now(),
      sizeRequest: t.client.bytesWritten() - sentBefore,
    });
    // interrupted (during a retry's wait, say): no further attempt
    if (t.signal?.aborted) return finish({ error: t.signal.reason });
    const retryAfter = async (d: Extract<RetryDecision, { retry: true }>, what: string) => {
      if (t.signal?.aborted) return;
      warn(
        plan.silent,
        `${what}: retry ${plan.retry.retries - d.state.left}/${plan.retry.retries} in ${formatDuration(Math.round(d.delayMs))}`,
      );
      // a timer cannot wait longer than 2^31-1 ms (24.8 days); a Retry-After may ask for more
      await sleep(Math.min(d.delayMs, 2 ** 31 - 1), undefined, { signal: t.signal }).catch(() => {});
      state = d.state;
      retries += 1;
    };

    let offset: number;
    try {
      offset = await resumeOffset(plan, firstOffset);
    } catch (err) {
      return finish({ error: err });
    }
    firstOffset ??= offset;
    const range = offset > 0 ? `${offset}-` : plan.range;
    const headers = [...((t.request.headers ?? []) as Array<[string, string]>)];
    const ownRange = headers.some(([k]) => k.toLowerCase() === 'range');
    if (range !== undefined && !ownRange) {
      headers.push(['Range', `bytes=${range}`]);
      result.range = range;
    }

    // -m: one deadline for each attempt, redirects and body included (--timeout is per phase)
    const deadline = new AbortController();
    const timer =
      t.maxTimeMs !== undefined && t.maxTimeMs > 0
        ? setTimeout(() => deadline.abort(), t.maxTimeMs).unref()
        : undefined;
    const timedOut = (err: unknown) => {
      if (!deadline.signal.aborted) return err;
      const message = `operation timed out after ${formatDuration(t.maxTimeMs!)} (--max-time)`;
      return new NetkitError('NETKIT_TIMEOUT', message, { cause: err });
    };

    let res: HttpResponse;
    const upload = uploadProgress(t.request, plan.silent);
    try {
      const signal = t.signal ? AbortSignal.any([deadline.signal, t.signal]) : deadline.signal;
      res = await t.client.request({
        ...t.request,
        headers,
        signal,
        onUploadProgress: upload.onUploadProgress,
      });
      upload.end();
    } catch (err) {
      upload.end();
      clearTimeout(timer);
      const e = timedOut(err);
      const d = decideRetry(plan.retry, state, { kind: 'error', error: classifyError(e) }, performance.now());
      if (d.retry) {
        await retryAfter(d, errorMessage(e));
        continue;
      }
      if (d.note) warn(plan.silent, d.note);
      return finish({ error: e });
    }
    result.res = res;
    const resuming = offset > 0 && t.method !== 'HEAD';
    const failed = t.fail && res.status >= 400 && !(resuming && res.status === 416);
    const d = decideRetry(
      plan.retry,
      state,
      { kind: 'response', status: res.status, failed, retryAfterMs: retryAfterMs(res.headers) },
      performance.now(),
    );
    if (d.retry) {
      clearTimeout(timer);
      // the body of a response retried is not written (curl prints it to stdout, then the next one)
      await res.body.dump().catch(() => {});
      await retryAfter(d, `HTTP ${res.status} ${res.statusText}`.trimEnd());
      continue;
    }
    if (d.note) warn(plan.silent, d.note);

    let inBody = false;
    try {
      // -i with -o: the heads go into the file, before the body (withHeadsAround), as in curl
      if (t.include && !plan.file) {
        await writeStdout(Buffer.concat(allHeads(res).map((h) => statusBlock(h))));
        stdoutUsed = true;
      }
      if (plan.dumpHeader !== undefined) {
        const block = Buffer.concat(allHeads(res).map((h) => statusBlock(h, '\r\n')));
        if (plan.dumpHeader === '-') {
          await writeStdout(block);
          stdoutUsed = true;
        } else await writeHeaderFile(plan.dumpHeader, block);
      }
      if (failed) {
        await res.body.dump().catch(() => {});
        throw new NetkitError(
          'NETKIT_PROTOCOL',
          `HTTP ${res.status} ${res.statusText}`.trimEnd() + ` from ${res.url}`,
        );
      }
      if (resuming) {
        const verdict = resumeVerdict(offset, res.status, res.headers);
        result.verdict = verdict;
        if (verdict.action === 'refuse') {
          discard(res);
          throw new NetkitError(
            'NETKIT_PROTOCOL',
            `cannot resume ${plan.file ?? 'the download'} at byte ${offset}: ${verdict.why}${plan.file ? ' (the file is left as it was)' : ''}`,
          );
        }
        if (verdict.action === 'complete') {
          // curl reads a 416's body (its size_download counts it) and writes none of it
          if (res.status === 416)
            for await (const chunk of res.body as AsyncIterable<Uint8Array>)
              result.downloaded += chunk.length;
          else discard(res);
          clearTimeout(timer);
          return finish();
        }
        result.resumedAt = offset;
      }

      if (plan.maxFilesize !== undefined) {
        const length = Number(res.headers['content-length']);
        try {
          checkDeclaredSize(Number.isNaN(length) ? undefined : length, plan.maxFilesize);
        } catch (err) {
          discard(res);
          throw err;
        }
      }
      inBody = true;
      let source = res.body as AsyncIterable<Uint8Array>;
      if (plan.limitRate) source = limitRate(source, plan.limitRate);
      source = tap(source, (n) => {
        result.downloaded += n;
      });
      if (plan.file) source = withProgress(res, plan.file, source, plan.silent);
      let body = t.compressed ? decodeBody(source, res.headers['content-encoding']) : source;
      // on what is written: a small compressed body can unpack to far more
      if (plan.maxFilesize !== undefined) body = capBytes(body, plan.maxFilesize);
      // bytes on stdout cannot be taken back: a failure after them is not retried
      if (!plan.file)
        body = tap(body, (n) => {
          if (n > 0) stdoutUsed = true;
        });
      let framing = 0;
      if (t.include && plan.file)
        body = withHeadsAround(res, body, (n) => {
          framing += n;
        });
      if (plan.file) {
        if (plan.createDirs) {
          const dir = path.dirname(plan.file);
          // a local failure, not the server's: one NETKIT_IO line, as a missing directory is
          await mkdir(dir, { recursive: true, mode: 0o750 }).catch((err: unknown) => {
            throw new NetkitError('NETKIT_IO', `cannot create ${dir}: ${errorMessage(err)}`, { cause: err });
          });
        }
        result.written =
          (resuming ? await appendStream(body, plan.file) : await writeStreamAtomic(body, plan.file)) -
          framing;
      } else result.written = await bodyToStdout(res, body, plan.binaryToTerminal);
      clearTimeout(timer);
      // trailers come after the body, and -i and -D show them there, as curl does
      if (res.trailers.length > 0) {
        if (t.include && !plan.file) await writeStdout(trailerBlock(res.trailers));
        if (plan.dumpHeader === '-') await writeStdout(trailerBlock(res.trailers, '\r\n'));
        else if (plan.dumpHeader !== undefined)
          await writeHeaderFile(plan.dumpHeader, trailerBlock(res.trailers, '\r\n'), 'a');
      }
      return finish();
    } catch (err) {
      clearTimeout(timer);
      // a connection closed under the body says how much of it came
      const body = inBody ? bodyProgress(res, result.downloaded) : undefined;
      const e = httpError(timedOut(err), res.url, undefined, body);
      const local = e instanceof NetkitError && (e.code === 'NETKIT_IO' || e.code === 'NETKIT_TOO_LARGE');
      if (inBody && !stdoutUsed && !local) {
        const again = decideRetry(
          plan.retry,
          state,
          { kind: 'error', error: classifyError(e) },
          performance.now(),
        );
        if (again.retry) {
          await retryAfter(again, errorMessage(e));
          continue;
        }
        if (again.note) warn(plan.silent, again.note);
      }
      return finish({ error: e });
    }
  }
}

/**
 * The offset an attempt resumes at (0: a whole download). `-C -` is the size of the file there
 * now (a retry continues from what arrived); `-C N` is N, and a retry first cuts the file back to
 * N, as curl does. A file whose size is not N is refused rather than appended to at its end.
 */
async function resumeOffset(plan: TransferPlan, first: number | undefined): Promise<number> {
  if (plan.resume === undefined) return 0;
  if (plan.file === undefined) return plan.resume === 'end' ? 0 : plan.resume; // curl: no file, no size
  const info = await stat(plan.file).catch(() => undefined);
  const size = info?.isFile() ? info.size : undefined;
  if (plan.resume === 'end') return size ?? 0;
  if (plan.resume > 0 && size !== undefined) {
    if (first === undefined && size !== plan.resume)
      throw new NetkitError(
        'NETKIT_IO',
        `-C ${plan.resume}: ${plan.file} has ${size} bytes, not ${plan.resume} (use -C - to resume from its end)`,
      );
    if (size > plan.resume) await truncate(plan.file, plan.resume);
  }
  return plan.resume;
}

/** Drop a body we will not read (undici reports the abort as an error nobody else listens to). */
function discard(res: HttpResponse): void {
  res.body.on('error', () => {});
  res.body.destroy();
}

async function writeHeaderFile(file: string, block: Buffer, flag: 'w' | 'a' = 'w'): Promise<void> {
  try {
    await writeFile(file, block, { flag });
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `cannot write -D ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The values `-w` reports about a transfer that ended with `exitcode`. */
export function writeOutInfo(
  url: string,
  method: string,
  plan: TransferPlan,
  result: TransferResult,
  exitcode: number,
): WriteOutInfo {
  const res = result.res;
  const seconds = (ms: number) => ms / 1000;
  const timings = res?.timings;
  let effective = url;
  try {
    effective = parseRequestUrl(url).url.href;
  } catch {
    // reported as given
  }
  const location = res?.headers.location;
  let redirectUrl: string | undefined;
  if (res && res.status >= 300 && res.status < 400 && typeof location === 'string') {
    try {
      redirectUrl = new URL(location, res.url).href;
    } catch {
      // not a URL: no redirect to report
    }
  }
  // curl's size_header counts 1xx heads too, and no trailers
  const blocks = res ? allHeads(res) : [];
  return {
    url,
    urlEffective: res?.url ?? effective,
    method,
    responseCode: res?.status ?? 0,
    httpVersion: res?.httpVersion ?? '0',
    headers: (res?.rawHeaders ?? []).map(([k, v]) => [k, byteStringToText(v)] as const),
    numRedirects: res?.redirects.length ?? 0,
    ...(redirectUrl !== undefined ? { redirectUrl } : {}),
    ...(res?.referer !== undefined ? { referer: res.referer } : {}),
    sizeDownload: result.downloaded,
    sizeHeader: blocks.reduce((sum, h) => sum + headerBytes(h), 0),
    sizeRequest: result.sizeRequest,
    sizeUpload: res?.uploadBytes ?? 0,
    numConnects: res?.connects ?? 0,
    remoteIp: res?.connection?.remoteAddress ?? '',
    remotePort: res?.connection?.remotePort ?? 0,
    localIp: res?.connection?.localAddress ?? '',
    localPort: res?.connection?.localPort ?? 0,
    timeNamelookup: seconds(timings?.namelookupMs ?? 0),
    timeConnect: seconds(timings?.connectMs ?? 0),
    timeAppconnect: seconds(timings?.appconnectMs ?? 0),
    timePretransfer: seconds(timings?.pretransferMs ?? 0),
    timeStarttransfer: seconds(timings?.starttransferMs ?? 0),
    timeRedirect: seconds(timings?.redirectMs ?? 0),
    timeTotal: seconds(result.endedAt - (timings?.start ?? result.startedAt)),
    exitcode,
    ...(result.error !== undefined ? { errormsg: errorMessage(result.error) } : {}),
    ...(plan.file !== undefined ? { filenameEffective: plan.file } : {}),
    version: DEFAULT_USER_AGENT,
  };
}

/** Print `-w`'s output (and its warnings, which curl prints even with -s). */
export async function printWriteOut(format: string, info: WriteOutInfo): Promise<void> {
  const { pieces, warnings } = formatWriteOut(format, info);
  for (const w of warnings) process.stderr.write(`netkit: warning: ${w}\n`);
  for (const p of pieces) {
    if (p.stream === 'stdout') await writeStdout(p.text);
    else process.stderr.write(p.text);
  }
}
