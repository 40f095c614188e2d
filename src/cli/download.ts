/**
 * `netkit download`: the CLI over {@link download} — flags, the progress bar (segment map on a
 * terminal, periodic lines otherwise), the result line or JSON, and Ctrl-C keeping the `.part` and
 * its control file for `--continue`.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { errorMessage, NetkitError } from '../core/errors.js';
import { parseChecksum } from '../http/download/checksum.js';
import {
  type DownloadError,
  DownloadInterrupted,
  type DownloadResult,
  download,
} from '../http/download/index.js';
import { DEFAULT_MAX_REDIRECTS } from '../http/undici-parts.js';
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
import {
  action,
  collect,
  createProgress,
  durationOption,
  exitWithError,
  formatBytes,
  interruptOnSignals,
  type Progress,
  parseBytes,
  parseNonNegative,
  parsePositive,
  parsePositiveBytes,
  printJson,
  printTrace,
} from './util.js';

interface DownloadCliOptions {
  output?: string;
  dir?: string;
  connections: number;
  minSegment: number;
  continue?: boolean;
  checksum?: string;
  maxFilesize?: number;
  retries: number;
  retryConnrefused?: boolean;
  maxRedirects: number;
  timeout: number;
  insecure?: boolean;
  ftpTls?: boolean;
  cacert?: string;
  user?: string;
  netrc?: boolean;
  netrcFile?: string;
  proxy?: string;
  noproxy?: string;
  header: string[];
  quiet?: boolean;
  json?: boolean;
  trace?: boolean;
}

const MAX_CONNECTIONS = 64;

function parseConnections(value: string): number {
  const n = parsePositive(value);
  if (n > MAX_CONNECTIONS) throw new InvalidArgumentError(`at most ${MAX_CONNECTIONS} connections`);
  return n;
}

function parseChecksumOption(value: string): string {
  try {
    parseChecksum(value);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
  return value;
}

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) throw new InvalidArgumentError(`"${line}" is not a header (use 'Name: value')`);
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function summary(r: DownloadResult): string {
  // --continue on a finished download: nothing moved, say so rather than "saved … 0 B/s"
  if (r.bytesFetched === 0 && r.resumedBytes === r.size && r.connections === 0)
    return `already complete: ${r.file} (${formatBytes(r.size)}, the server's size${r.checksum ? `, ${r.checksum.algorithm} ok` : ''})`;
  const secs = r.elapsedMs / 1000;
  const rate = secs > 0 ? r.bytesFetched / secs : 0;
  const how =
    r.mode === 'single' ? 'one stream' : `${r.connections} connection${r.connections === 1 ? '' : 's'}`;
  const resumed = r.resumedBytes ? `, ${formatBytes(r.resumedBytes)} kept from the last run` : '';
  const sum = r.checksum ? `, ${r.checksum.algorithm} ok` : '';
  return `saved ${r.file} (${formatBytes(r.size)} in ${secs.toFixed(1)} s, ${formatBytes(rate)}/s, ${how}${resumed}${sum})`;
}

/**
 * The line after Ctrl-C: what the library says it kept, and whether `--continue` goes on from it
 * (the library knows: it wrote, or could not write, the control file).
 */
export function interruptedLine(err: DownloadInterrupted): string {
  const kept = err.kept;
  if (!kept) return 'netkit: interrupted before the transfer started';
  return kept.resumable
    ? `netkit: interrupted; kept ${kept.part} — run again with --continue`
    : `netkit: interrupted; kept ${kept.part}, but it cannot be resumed (${kept.why}) — running again starts over`;
}

/**
 * The line after a failure's error line: the `.part` the library says it kept, and whether
 * `--continue` resumes it; none when it kept nothing (the failure came before the `.part`, or
 * before its first byte, or the `.part` was renamed into place already).
 */
export function keptLine(err: unknown): string | undefined {
  const kept = err instanceof NetkitError ? (err as DownloadError).kept : undefined;
  if (!kept || kept.bytes === 0) return undefined;
  if (!kept.resumable) return `netkit: kept ${kept.part}, but it cannot be resumed (${kept.why})`;
  // stopped by --max-filesize: the same command would stop there again
  const larger = (err as NetkitError).code === 'NETKIT_TOO_LARGE' ? 'a larger --max-filesize and ' : '';
  return `netkit: kept ${kept.part} — run again with ${larger}--continue to resume`;
}

/** `netkit download URL`: the multi-connection resumable downloader. */
export function register(program: Command): void {
  program
    .command('download')
    .description('download a URL over several connections, resumable, with progress')
    .argument('<url>', 'http, https, ftp or ftps (implicit TLS) URL')
    .option('-o, --output <file>', 'output file (default: from Content-Disposition or the URL)')
    .option('-d, --dir <dir>', 'directory to save into (created if missing)')
    .option('-c, --connections <n>', 'parallel connections (like aria2c -x/-s)', parseConnections, 4)
    .addOption(
      new Option('-k, --min-segment <size>', 'minimum segment size, e.g. 512k, 2M (like aria2c -k)')
        .argParser(parsePositiveBytes)
        .default(1024 * 1024, '1M'),
    )
    .option('--continue', 'resume FILE.part using its control file FILE.part.netkit (also after a crash)')
    .option(
      '--checksum <algo=hex>',
      'verify sha256=HEX (or sha1, md5, sha512) before saving',
      parseChecksumOption,
    )
    .option(
      '--max-filesize <size>',
      'refuse a file larger than SIZE (10M, 1G; as curl): before any byte when the server says its size',
      parseBytes,
    )
    .option('--retries <n>', 'retries per segment (0 = none)', parseNonNegative, 5)
    .option(
      '--retry-connrefused',
      'retry a server that refuses the first connection too (curl, wget); a refusal mid-download is always retried',
    )
    .option('--max-redirects <n>', 'most redirects to follow', parseNonNegative, DEFAULT_MAX_REDIRECTS)
    .addOption(durationOption('--timeout <duration>', 'connect / response / idle-body timeout', 30_000))
    .option('--insecure', 'do not verify TLS certificates')
    .option('--ftp-tls', 'explicit FTPS for ftp:// URLs: AUTH TLS before login, encrypted data')
    .addOption(cacertOption())
    .addOption(userOption())
    .addOption(netrcOption())
    .addOption(netrcFileOption())
    .addOption(proxyOption())
    .addOption(noProxyOption())
    .addOption(
      new Option('-H, --header <header>', "extra request header 'Name: value' (repeatable)")
        .argParser(collect)
        .default([], 'none'),
    )
    .option('--quiet', 'no progress and no summary')
    .option('--json', 'print the final summary as JSON')
    .option('--trace', 'print requests, responses and decisions to stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit download http://127.0.0.1:8080/big.iso                 4 connections, name from the URL
  $ netkit download -c 8 -k 2M https://example.org/file.tar.xz    8 connections, 2 MiB minimum segments
  $ netkit download -o out.bin --continue http://host/file.bin    resume after Ctrl-C or a crash
  $ netkit download --checksum sha256=9f86d08… http://host/f.bin  verify before renaming into place
  $ netkit download --json --quiet http://host/f.bin              one JSON summary line
  $ netkit download -x http://proxy.lan:3128 https://host/f.iso    through an HTTP proxy
  $ netkit download -c 4 ftp://127.0.0.1:2121/pub/big.iso          FTP: REST + RETR per segment
  $ netkit download ftp://user:pass@host/dir/f.tar.gz              an FTP login (else anonymous)
  $ netkit download --ftp-tls --cacert ca.pem ftp://host/f.iso      FTP with AUTH TLS (ftps:// = implicit)
  $ netkit download --cacert netkit-data/tls/dev-cert.pem https://localhost:8443/big.bin

Data goes to FILE.part and is renamed to FILE only when complete (and verified); the control file
FILE.part.netkit records the finished byte ranges so --continue fetches only what is missing. One
stream (no size from the server, or no ranges) goes on from the length of FILE.part, as wget -c and
curl -C - do, when the server does ranges and the file has not changed (If-Range; FTP: REST, MDTM);
otherwise --continue starts over and says so.`,
    )
    .action(
      action(async (url: string, opts: DownloadCliOptions) => {
        const handle = download(url, {
          output: opts.output,
          dir: opts.dir,
          connections: opts.connections,
          minSegmentSize: opts.minSegment,
          continue: opts.continue,
          checksum: opts.checksum,
          ...(opts.maxFilesize !== undefined ? { maxFileSize: opts.maxFilesize } : {}),
          retries: opts.retries,
          retryConnRefused: opts.retryConnrefused ?? false,
          maxRedirects: opts.maxRedirects,
          timeoutMs: opts.timeout,
          insecure: opts.insecure,
          ...(opts.ftpTls ? { ftpTls: true } : {}),
          ca: await readCaCert(opts.cacert),
          auth: await basicAuth(url, opts),
          proxy: opts.proxy,
          noProxy: opts.noproxy,
          headers: parseHeaders(opts.header),
        });
        if (opts.trace) printTrace(handle, 'client');
        let progress: Progress | undefined;
        handle.on('start', (s) => {
          // --continue on a finished file: no bar to draw, only the "already complete" line
          if (s.size !== undefined && s.resumedBytes >= s.size) return;
          progress = createProgress(path.basename(s.file), s.size, {
            quiet: opts.quiet,
            initial: s.resumedBytes,
          });
        });
        handle.on('progress', (p) => {
          const active = p.segments.filter((s) => s.conn > 0).length;
          progress?.update(p.done, p.segments.length > 1 || active > 1 ? `${active} conn` : '', p.segments);
        });
        const interrupt = interruptOnSignals();
        interrupt.signal.addEventListener('abort', () => handle.abort());
        try {
          const result = await handle.promise;
          const done = opts.quiet || opts.json ? undefined : summary(result);
          if (progress) progress.finish(done);
          else if (done) process.stderr.write(`${done}\n`);
          if (opts.json) printJson(result);
        } catch (err) {
          progress?.abandon();
          if (err instanceof DownloadInterrupted) {
            process.stderr.write(`${interruptedLine(err)}\n`);
            process.exit(interrupt.error?.exitCode ?? 130);
          }
          exitWithError(err, process.argv.includes('--debug'), keptLine(err));
        } finally {
          interrupt.dispose();
        }
      }),
    );
}
