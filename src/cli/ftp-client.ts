/**
 * `netkit ftp ls|get|put|rm|mkdir|mv|mirror`: thin layers over {@link FtpClient} and the mirror
 * functions (src/ftp/client.ts, src/ftp/client-mirror.ts). This file owns the flags, the login
 * (user and password from the URL, the flags, NETKIT_PASSWORD or a prompt), the progress display
 * and the output formats; `serve` lives in ftp-serve.ts. The interactive `ftp shell`
 * (ftp-shell.ts) reuses the login, the progress display, the listing format and `runMirror` from
 * here, so a shell command prints what the one-shot command prints.
 *
 * TLS: `--tls` is explicit AUTH TLS (then PROT P), `--implicit-tls` (or an `ftps://` URL) is
 * TLS from the first byte. Certificates are verified; the lab's own development certificate in
 * the data directory is trusted automatically, `--insecure` turns verification off.
 * Data connections are passive (EPSV/PASV) unless `--active` (PORT/EPRT) is given.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { resolveDataDir } from '../core/datadir.js';
import { NetkitError, usageError } from '../core/errors.js';
import { maxOf } from '../core/format.js';
import { netrcLogin } from '../core/netrc.js';
import { trustedCertificates } from '../core/tls-trust.js';
import { formatTrace } from '../core/trace.js';
import {
  CONTINUE_ADVICE,
  FtpClient,
  type FtpEntry,
  type FtpProgress,
  type FtpTransferResult,
  MAX_LISTING_BYTES,
} from '../ftp/client.js';
import type { ActiveModeOptions } from '../ftp/client-active.js';
import {
  downloadAdvice,
  MAX_TREE_ENTRIES,
  type MirrorResult,
  mirrorDown,
  mirrorUp,
  removeTree,
  uploadAdvice,
} from '../ftp/client-mirror.js';
import {
  type FtpUrl,
  formatFtpUrl,
  joinRemote,
  parseFtpUrl,
  remoteBasename,
  remoteDirname,
} from '../ftp/ftp-url.js';
import type { MirrorAction } from '../ftp/mirror.js';
import { displayName, unsafeNameReason } from '../ftp/safe-name.js';
import {
  action,
  createProgress,
  formatBytes,
  interruptOnSignals,
  type Progress,
  parseBytes,
  parseDuration,
  parsePortRangeOption,
  parsePositive,
  parsePositiveBytes,
  parseRateOption,
  printJson,
  readPassword,
} from './util.js';

export interface CommonOptions {
  user?: string;
  password?: string;
  netrc: boolean;
  netrcFile?: string;
  tls?: boolean;
  implicitTls?: boolean;
  insecure?: boolean;
  ca?: string;
  data?: string;
  timeout?: number;
  trace?: boolean;
  quiet?: boolean;
  json?: boolean;
  active?: boolean;
  activeAddress?: string;
  activePorts?: [number, number];
  limitRate?: number;
  maxFilesize?: number;
  maxListingSize?: number;
  maxEntries?: number;
}

/** The login, TLS, timeout and trace flags: every command that connects (`ftp shell` too). */
export function addLoginOptions(cmd: Command): Command {
  return cmd
    .option('--user <name>', 'login name (default: from the URL, else ~/.netrc, else anonymous)')
    .option('--password <pw>', 'password (else from the URL, NETKIT_PASSWORD, ~/.netrc, or a prompt)')
    .option('--netrc-file <file>', 'read logins from this netrc file instead of $NETRC or ~/.netrc')
    .option('--no-netrc', 'do not read ~/.netrc')
    .option('--tls', 'explicit FTPS: AUTH TLS before login, encrypted data (PROT P)')
    .option('--implicit-tls', 'implicit FTPS: TLS from the first byte (default port 990; also ftps://)')
    .option('--insecure', "do not verify the server's TLS certificate (self-signed lab certs)")
    .option('--ca <file>', 'also trust this PEM certificate')
    .option('--data <dir>', 'data directory whose lab certificate is trusted (default ./netkit-data)')
    .option(
      '--timeout <duration>',
      'give up when the server is silent this long (default 30s)',
      parseDuration,
    )
    .option('--trace', 'print the FTP conversation on stderr (PASS masked)')
    .option('--active', 'active mode: the server connects to us (PORT/EPRT); default passive (EPSV/PASV)')
    .option('--active-address <ip>', 'address to announce in active mode (behind NAT); implies --active')
    .option(
      '--active-ports <from-to>',
      'local ports for active data connections; implies --active',
      parsePortRangeOption,
    );
}

/** The data-connection mode the flags ask for (FtpClientOptions.active). */
export function activeOption(opts: CommonOptions): boolean | ActiveModeOptions {
  if (opts.activeAddress === undefined && opts.activePorts === undefined) return opts.active === true;
  return {
    ...(opts.activeAddress !== undefined ? { address: opts.activeAddress } : {}),
    ...(opts.activePorts !== undefined ? { ports: opts.activePorts } : {}),
  };
}

/** `--limit-rate`: for the commands that transfer files (get, put, mirror, shell). */
export function addTransferOptions(cmd: Command): Command {
  return cmd.option(
    '--limit-rate <rate>',
    'transfer at most RATE bytes per second, each file (100K, 1M; as curl)',
    parseRateOption,
  );
}

/**
 * `--max-filesize`: for the commands that download (get, mirror, shell). As curl's, it bounds
 * downloads only — `put` does not take it (an unknown option, exit 2), `mirror --reverse` refuses it.
 */
export function addDownloadOptions(cmd: Command): Command {
  return cmd.option(
    '--max-filesize <size>',
    'refuse to download a file larger than SIZE (10M, 1G; as curl): by SIZE first, else as it comes',
    parseBytes,
  );
}

/** `--max-listing-size`: for the commands that read directory listings (ls, rm, mirror, shell). */
export function addListingOptions(cmd: Command): Command {
  return cmd.addOption(
    new Option('--max-listing-size <size>', 'refuse a directory listing larger than SIZE (e.g. 200M)')
      .argParser(parsePositiveBytes)
      .default(MAX_LISTING_BYTES, `${MAX_LISTING_BYTES / (1024 * 1024)}M`),
  );
}

/** `--max-entries`: for the commands that walk a whole tree (mirror, rm -r, shell's mirror). */
export function addTreeOptions(cmd: Command): Command {
  return cmd.addOption(
    new Option('--max-entries <n>', 'refuse a tree of more than N entries, files and directories together')
      .argParser(parsePositive)
      .default(MAX_TREE_ENTRIES),
  );
}

function addCommon(cmd: Command): Command {
  return addLoginOptions(cmd)
    .option('--json', 'print JSON')
    .option('--quiet', 'no progress or messages, only errors');
}

/** Parse the URL, work out the login, connect. `login` is what was used (a shell reconnects with it). */
export async function open(
  urlText: string,
  opts: CommonOptions,
  onCreate?: (client: FtpClient) => void,
): Promise<{ client: FtpClient; url: FtpUrl; login: { user: string; password: string } }> {
  const url = parseFtpUrl(urlText);
  if (url.typecode === 'a')
    throw usageError('ASCII transfers (;type=a) are not supported: netkit transfers in binary (;type=i)');
  if (opts.tls && (opts.implicitTls || url.scheme === 'ftps'))
    throw usageError('--tls (explicit) and implicit TLS (--implicit-tls or ftps://) exclude each other');
  const implicit = opts.implicitTls === true || url.scheme === 'ftps';
  const given = opts.user ?? url.user;
  let givenPassword = opts.password ?? url.password;
  let user = given;
  // like ftp(1) and lftp: the netrc login for this host fills in what the URL and flags leave out
  // (a password in NETKIT_PASSWORD still comes before the file's)
  if ((given === undefined || givenPassword === undefined) && (opts.netrc || opts.netrcFile !== undefined)) {
    const saved = await netrcLogin(url.host, given, opts.netrcFile);
    user ??= saved?.login;
    if (givenPassword === undefined && process.env.NETKIT_PASSWORD === undefined)
      givenPassword = saved?.password;
  }
  const anonymous = user === undefined || /^(anonymous|ftp)$/i.test(user);
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const password = anonymous
    ? (givenPassword ?? 'netkit@')
    : await readPassword(givenPassword, `Password for ${user}@${host}: `);
  const tlsMode = implicit ? 'implicit' : opts.tls ? 'explicit' : false;
  const ca =
    tlsMode && !opts.insecure ? await trustedCertificates(resolveDataDir(opts.data), opts.ca) : undefined;
  // an ftp:// URL without a port and --implicit-tls: the implicit-TLS port
  const port = implicit && url.scheme === 'ftp' && !/^ftp:\/\/[^/]*:\d+/i.test(urlText) ? 990 : url.port;
  const login = { user: user ?? 'anonymous', password };
  const client = await FtpClient.connect(
    {
      host: url.host,
      port,
      user: login.user,
      password,
      tls: tlsMode,
      rejectUnauthorized: !opts.insecure,
      ...(ca ? { ca } : {}),
      ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
      active: activeOption(opts),
      ...(opts.limitRate ? { limitRate: opts.limitRate } : {}),
      ...(opts.maxFilesize !== undefined ? { maxFileSize: opts.maxFilesize } : {}),
      ...(opts.maxListingSize !== undefined ? { maxListingBytes: opts.maxListingSize } : {}),
    },
    (c) => {
      if (opts.trace) c.on('trace', (ev) => process.stderr.write(`${formatTrace(ev, 'client')}\n`));
      onCreate?.(c);
    },
  );
  return { client, url, login };
}

/** Run `fn` with a connected client and always close it. */
async function withClient<T>(
  urlText: string,
  opts: CommonOptions,
  fn: (client: FtpClient, url: FtpUrl) => Promise<T>,
): Promise<T> {
  const { client, url } = await open(urlText, opts);
  try {
    return await fn(client, url);
  } finally {
    client.close();
  }
}

/**
 * Ctrl-C or SIGTERM during `get`, `put` or `mirror`. Dying on the signal would lose what the part
 * file's stream still held, and end an upload's data connection the way a complete upload ends;
 * instead the first signal aborts the connection ({@link FtpClient.abort}), which stops the
 * transfer where it is (a download's part file flushed and kept, the server left with what it
 * received of an upload, as an aborted one), then `netkit: interrupted; NOTE` says what was kept and how to go on —
 * `note` is asked once the transfer has stopped, nothing is said without one — and the command
 * exits 130 (SIGTERM: 143). A second signal exits at once.
 */
async function interruptible<T>(
  client: FtpClient,
  note: () => Promise<string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const interrupt = interruptOnSignals();
  interrupt.signal.addEventListener('abort', () => client.abort());
  try {
    return await fn();
  } catch (err) {
    if (!interrupt.error) throw err;
    const words = await note();
    if (words !== undefined) process.stderr.write(`netkit: interrupted; ${words}\n`);
    throw interrupt.error;
  } finally {
    interrupt.dispose();
  }
}

/** The size of a part file a transfer kept, when it holds any bytes. */
async function keptBytes(part: string): Promise<number | undefined> {
  const st = await stat(part).catch(() => undefined);
  return st?.isFile() && st.size > 0 ? st.size : undefined;
}

/** What an interrupted `get` kept: its part file, which `--continue` resumes. */
async function getInterruptedNote(local: string): Promise<string | undefined> {
  const part = `${local}.part`;
  const size = await keptBytes(part);
  return size === undefined ? undefined : `${part} kept (${formatBytes(size)}), ${CONTINUE_ADVICE.resume}`;
}

/**
 * What an interrupted mirror left of the file it was moving (`current`): a download's part file,
 * which the next run continues when the server gave the file's time; an upload's short copy on the
 * server, which the next run replaces (its size differs) unless `--only-newer` takes it for newer.
 */
async function mirrorInterruptedNote(req: MirrorRequest, current: MirrorAction | undefined): Promise<string> {
  if (current?.kind !== 'transfer') return 'run the mirror again to finish';
  if (req.reverse)
    return `the server has part of ${displayName(joinRemote(req.remoteDir, current.path))}; ${uploadAdvice(req).resume}`;
  const part = `${path.join(req.localDir, ...current.path.split('/'))}.part`;
  const size = await keptBytes(part);
  return size === undefined
    ? 'run the mirror again to finish'
    : `${displayName(part)} kept (${formatBytes(size)}), ${downloadAdvice(current).resume}`;
}

type OutputOptions = Pick<CommonOptions, 'quiet' | 'json'>;

const say = (opts: OutputOptions, text: string): void => {
  if (!opts.quiet && !opts.json) process.stdout.write(`${text}\n`);
};
const warn = (opts: OutputOptions, text: string): void => {
  if (!opts.quiet) process.stderr.write(`netkit: warning: ${text}\n`);
};

/**
 * Drive a progress display from the client's 'progress' events for one transfer; `finish` stops
 * listening (a shell runs many transfers on one client).
 */
export function trackTransfer(
  client: FtpClient,
  label: string,
  opts: Pick<CommonOptions, 'quiet'>,
): Progress {
  let progress: Progress | undefined;
  const quiet = opts.quiet === true;
  const onProgress = (p: FtpProgress) => {
    progress ??= createProgress(label, p.total, { quiet, initial: p.startAt });
    progress.update(p.bytes);
  };
  client.on('progress', onProgress);
  return {
    update: (n, d, s) => progress?.update(n, d, s),
    setTotal: (t) => progress?.setTotal(t),
    finish: (m) => {
      client.off('progress', onProgress);
      if (progress) progress.finish(m);
      else if (m && !quiet) process.stderr.write(`${m}\n`);
    },
    abandon: () => {
      client.off('progress', onProgress);
      progress?.abandon();
    },
  };
}

/** A rejection handler that ends a drawn progress bar's line before the failure is reported. */
const abandoning =
  (progress: Progress) =>
  (err: unknown): never => {
    progress.abandon();
    throw err;
  };

function rate(r: FtpTransferResult): string {
  const secs = Math.max(r.ms, 1) / 1000;
  return `${formatBytes(Math.round(r.transferred / secs))}/s`;
}

export function transferMessage(verb: string, what: string, r: FtpTransferResult): string {
  if (r.alreadyComplete) return `${what} is already complete (${formatBytes(r.size)})`;
  const resumed = r.resumedFrom > 0 ? `, resumed at ${formatBytes(r.resumedFrom)}` : '';
  return `${verb} ${what} (${formatBytes(r.size)} in ${(r.ms / 1000).toFixed(1)}s, ${rate(r)}${resumed})`;
}

/**
 * The `--json` line of `get` and `put` (README: "JSON output"): the URL (password masked), the
 * local (get) or remote (put) path written, the file's size, the bytes this run moved, the offset
 * it resumed from, whether the destination was already complete (`--continue` with nothing left
 * to do) and the milliseconds spent.
 */
function transferJson(url: string, r: FtpTransferResult): Record<string, unknown> {
  return {
    url,
    path: r.path,
    size: r.size,
    transferred: r.transferred,
    resumedFrom: r.resumedFrom,
    alreadyComplete: r.alreadyComplete,
    ms: r.ms,
  };
}

// ---- ls ----

function entryJson(e: FtpEntry): Record<string, unknown> {
  const o: Record<string, unknown> = { name: e.name, type: e.type, size: e.size };
  if (e.modifiedAt) o.modifiedAt = e.modifiedAt.toISOString();
  else if (e.rawModifiedAt) o.rawModifiedAt = e.rawModifiedAt;
  if (e.permissions) o.permissions = e.permissions;
  if (e.link) o.link = e.link;
  return o;
}

function longLine(e: FtpEntry, sizeWidth: number): string {
  const t = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : e.type === 'file' ? '-' : '?';
  const mode = `${t}${e.permissions ?? '---------'}`;
  // MLSD times are UTC; LIST's are the server's local time as it wrote them, and say so
  const when = e.modifiedAt
    ? `${e.modifiedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`
    : e.rawModifiedAt
      ? `${displayName(e.rawModifiedAt).padEnd(12)} (server time)`
      : ''.padEnd(16);
  const link = e.link ? ` -> ${displayName(e.link)}` : '';
  return `${mode}  ${String(e.size).padStart(sizeWidth)}  ${when}  ${displayName(e.name)}${e.type === 'dir' ? '/' : ''}${link}`;
}

/** A listing as printed by `ls` (sorted by name; `long`: `ls -l`), one string per line. */
export function formatListing(entries: readonly FtpEntry[], long: boolean): string[] {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const width = maxOf(
    sorted.map((e) => String(e.size).length),
    1,
  );
  return sorted.map((e) =>
    long ? longLine(e, width) : `${displayName(e.name)}${e.type === 'dir' ? '/' : ''}`,
  );
}

// ---- get: where the file goes ----

/** The file to upload exists and is a file: one clear line, exit 1, before any connection. */
export async function checkLocalFile(file: string): Promise<void> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new NetkitError(
      'NETKIT_IO',
      `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
    );
  });
  if (!st.isFile()) throw new NetkitError('NETKIT_IO', `${file} is not a file`);
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The local file for a download: `-o FILE`, `-o DIR/` + the remote name, or the remote name here. */
export async function localTarget(remotePath: string, output: string | undefined): Promise<string> {
  const name = remoteBasename(remotePath);
  const inDir =
    output === undefined || output.endsWith('/') || output.endsWith(path.sep) || (await isDir(output));
  if (!inDir) return output;
  const why = unsafeNameReason(name);
  if (why)
    throw new NetkitError(
      'NETKIT_PATH_OUTSIDE_ROOT',
      `cannot name the local file after ${displayName(name)}: ${why}; use -o FILE`,
    );
  return path.join(output ?? '.', name);
}

// ---- mirror output ----

function actionLine(a: MirrorAction, reverse: boolean): string {
  switch (a.kind) {
    case 'mkdir':
      return `mkdir ${displayName(a.path)}/`;
    case 'delete':
      return `rm    ${displayName(a.path)}${a.type === 'dir' ? '/' : ''}`;
    case 'transfer':
      return `${reverse ? 'put  ' : 'get  '} ${displayName(a.path)} (${formatBytes(a.size)}, ${a.reason})`;
    default:
      return `skip  ${displayName(a.path)}: ${a.reason}`;
  }
}

export interface MirrorRequest {
  /** upload `localDir` into `remoteDir` (else download `remoteDir` into `localDir`) */
  reverse: boolean;
  remoteDir: string;
  localDir: string;
  onlyNewer: boolean;
  delete: boolean;
  dryRun: boolean;
  /** the most entries a tree may have (default the library's, 100,000) */
  maxEntries?: number;
}

/**
 * One mirror with the CLI's output: the actions as they happen, a progress bar for the whole tree,
 * the summary line (or `--json`). Shared by `ftp mirror` and the shell's `mirror`.
 */
export async function runMirror(
  client: FtpClient,
  req: MirrorRequest,
  opts: OutputOptions & { progress?: boolean; onAction?: (a: MirrorAction) => void },
): Promise<MirrorResult> {
  const tty = process.stderr.isTTY === true;
  let progress: Progress | undefined;
  let doneBefore = 0;
  let current = 0;
  const onProgress = (p: FtpProgress) => progress?.update(doneBefore + p.transferred);
  const mirrorOpts = {
    onlyNewer: req.onlyNewer,
    delete: req.delete,
    dryRun: req.dryRun,
    maxEntries: req.maxEntries,
    onWarning: (m: string) => warn(opts, m),
    onPlan: (plan: { actions: MirrorAction[] }) => {
      const bytes = plan.actions.reduce((n, a) => n + (a.kind === 'transfer' ? a.size : 0), 0);
      if (!req.dryRun && bytes > 0)
        progress = createProgress('mirror', bytes, { quiet: opts.quiet === true || opts.progress === false });
      if (req.dryRun && !opts.json) for (const a of plan.actions) say(opts, actionLine(a, req.reverse));
    },
    onAction: (a: MirrorAction) => {
      opts.onAction?.(a);
      doneBefore += current;
      current = a.kind === 'transfer' ? a.size : 0;
      if (tty && progress && !opts.quiet && opts.progress !== false) process.stderr.write('\r\u001b[J');
      say(opts, actionLine(a, req.reverse));
    },
  };
  client.on('progress', onProgress);
  let result: MirrorResult;
  try {
    result = req.reverse
      ? await mirrorUp(client, req.localDir, req.remoteDir, mirrorOpts)
      : await mirrorDown(client, req.remoteDir, req.localDir, mirrorOpts);
  } catch (err) {
    progress?.abandon();
    throw err;
  } finally {
    client.off('progress', onProgress);
  }
  progress?.finish();
  const s = result.summary;
  if (opts.json) {
    printJson({
      direction: req.reverse ? 'up' : 'down',
      dryRun: req.dryRun,
      ...s,
      transferred: result.transferred,
      warnings: result.warnings,
      actions: result.plan.actions,
    });
    return result;
  }
  if (!req.dryRun)
    for (const a of result.plan.actions) if (a.kind === 'skip') say(opts, actionLine(a, req.reverse));
  say(
    opts,
    `${req.dryRun ? 'would transfer' : req.reverse ? 'uploaded' : 'downloaded'} ${s.transfers} file${s.transfers === 1 ? '' : 's'} (${formatBytes(req.dryRun ? s.bytes : result.transferred)}), ` +
      `${s.mkdirs} new dir${s.mkdirs === 1 ? '' : 's'}, ${s.deletes} deleted, ${s.upToDate} up to date${s.skips ? `, ${s.skips} skipped` : ''}` +
      (result.warnings.length
        ? `, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}`
        : ''),
  );
  return result;
}

export function register(group: Command): void {
  addListingOptions(
    addCommon(
      group
        .command('ls')
        .description('list a remote directory (MLSD, else LIST)')
        .argument('<url>', 'ftp://[user[:pass]@]host[:port]/dir/')
        .option(
          '-l, --long',
          "long listing: type and mode, size, time (UTC from MLSD, else the server's local time from LIST), name",
        ),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp ls ftp://127.0.0.1:2121/pub/
  $ netkit ftp ls -l ftp://alice@127.0.0.1:2121/ --password secret
  $ NETKIT_PASSWORD=secret netkit ftp ls ftp://alice@127.0.0.1:2121/docs/ --tls --json
  $ netkit ftp ls ftp://ftp.example.org/pub/ --trace
  $ netkit ftp ls ftp://ftp.example.org/huge/ --max-listing-size 200M`,
    )
    .action(
      action(async (urlText: string, opts: CommonOptions & { long?: boolean }) => {
        await withClient(urlText, opts, async (client, url) => {
          const entries = await client.list(url.path);
          if (opts.json) {
            const sorted = entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
            printJson(sorted.map(entryJson));
            return;
          }
          for (const line of formatListing(entries, opts.long === true)) process.stdout.write(`${line}\n`);
        });
      }),
    );

  addDownloadOptions(
    addTransferOptions(
      addCommon(
        group
          .command('get')
          .description('download a file (through FILE.part; --continue resumes it)')
          .argument('<url>', 'ftp://[user[:pass]@]host[:port]/dir/file')
          .option(
            '-o, --output <file|dir|->',
            'local file, existing directory, or - for stdout (default: the remote name here)',
          )
          .option('-c, --continue', 'resume: continue FILE.part (or a shorter FILE) with REST'),
      ),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp get ftp://127.0.0.1:2121/pub/README.txt   # the sample file of "netkit lab"
  $ netkit ftp get ftp://alice:secret@127.0.0.1:2121/big.iso -o /tmp/ --continue
  $ netkit ftp get ftp://127.0.0.1:2121/pub/README.txt -o - | head
  $ netkit ftp get ftp://alice@lab.local:2121/report.pdf --tls --insecure --json
  $ netkit ftp get ftp://ftp.example.org/pub/file.tar.gz --active   # the server connects to us`,
    )
    .action(
      action(async (urlText: string, opts: CommonOptions & { output?: string; continue?: boolean }) => {
        const parsed = parseFtpUrl(urlText);
        if (parsed.isDirectory)
          throw usageError(`${formatFtpUrl(parsed)} names a directory: use "netkit ftp mirror"`);
        if (opts.output === '-' && opts.continue) throw usageError('--continue needs a file, not stdout');
        await withClient(urlText, opts, async (client, url) => {
          if (opts.output === '-') {
            const progress = trackTransfer(client, remoteBasename(url.path), opts);
            // to stdout nothing is kept to resume: the exit code says it all, as for http get
            const r = await interruptible(
              client,
              async () => undefined,
              () => client.getStream(url.path, process.stdout),
            ).catch(abandoning(progress));
            progress.finish();
            if (!opts.quiet) process.stderr.write(`${transferMessage('got', remoteBasename(url.path), r)}\n`);
            return;
          }
          const local = await localTarget(url.path, opts.output);
          const progress = trackTransfer(client, path.basename(local), opts);
          const r = await interruptible(
            client,
            () => getInterruptedNote(local),
            () => client.get(url.path, local, { resume: opts.continue === true, mtime: true }),
          ).catch(abandoning(progress));
          progress.finish(opts.json ? undefined : transferMessage('saved', local, r));
          if (opts.json) printJson(transferJson(formatFtpUrl(url), r));
        });
      }),
    );

  addTransferOptions(
    addCommon(
      group
        .command('put')
        .description('upload a file (--continue appends the missing tail with APPE)')
        .argument('<file>', 'local file')
        .argument('<url>', 'ftp://…/dir/ (keeps the file name) or ftp://…/dir/name')
        .option('-c, --continue', 'resume: append to a shorter remote copy'),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp put report.pdf ftp://alice:secret@127.0.0.1:2121/
  $ netkit ftp put big.iso ftp://alice@127.0.0.1:2121/isos/big.iso --continue
  $ netkit ftp put notes.txt ftp://127.0.0.1:2121/incoming/ --tls --insecure
  $ netkit ftp put big.iso ftp://alice@127.0.0.1:2121/ --limit-rate 500K`,
    )
    .action(
      action(async (file: string, urlText: string, opts: CommonOptions & { continue?: boolean }) => {
        await checkLocalFile(file); // before connecting: a typo is not a network problem
        await withClient(urlText, opts, async (client, url) => {
          const remote = url.isDirectory ? joinRemote(url.path, path.basename(file)) : url.path;
          const progress = trackTransfer(client, path.basename(file), opts);
          // the server keeps what it received (most do): --continue appends the rest
          const r = await interruptible(
            client,
            async () => CONTINUE_ADVICE.resume,
            () => client.put(file, remote, { resume: opts.continue === true }),
          ).catch(abandoning(progress));
          progress.finish(opts.json ? undefined : transferMessage('uploaded', formatFtpUrl(url, remote), r));
          if (opts.json) printJson(transferJson(formatFtpUrl(url, remote), r));
        });
      }),
    );

  addTreeOptions(
    addListingOptions(
      addCommon(
        group
          .command('rm')
          .description('delete a remote file (-r: a directory and everything in it)')
          .argument('<url>', 'ftp://…/dir/file')
          .option('-r, --recursive', 'remove a directory tree'),
      ),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp rm ftp://alice:secret@127.0.0.1:2121/old.txt
  $ netkit ftp rm -r ftp://alice:secret@127.0.0.1:2121/build/`,
    )
    .action(
      action(async (urlText: string, opts: CommonOptions & { recursive?: boolean }) => {
        const target = parseFtpUrl(urlText).path.replace(/\/+$/, '');
        if (target === '') throw usageError('refusing to remove the top directory');
        await withClient(urlText, opts, async (client, url) => {
          let removed = 1;
          if (opts.recursive)
            removed = await removeTree(client, target, {
              onWarning: (m) => warn(opts, m),
              maxEntries: opts.maxEntries,
            });
          else await client.remove(target);
          if (opts.json) printJson({ url: formatFtpUrl(url), removed });
          else say(opts, `removed ${formatFtpUrl(url)}${removed > 1 ? ` (${removed} entries)` : ''}`);
        });
      }),
    );

  addCommon(
    group
      .command('mkdir')
      .description('create a remote directory')
      .argument('<url>', 'ftp://…/dir/')
      .option('-p, --parents', 'create missing parents; no error if it exists'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp mkdir ftp://alice:secret@127.0.0.1:2121/photos/
  $ netkit ftp mkdir -p ftp://alice:secret@127.0.0.1:2121/a/b/c/`,
    )
    .action(
      action(async (urlText: string, opts: CommonOptions & { parents?: boolean }) => {
        const dir = parseFtpUrl(urlText).path.replace(/(.)\/+$/, '$1');
        if (dir === '' || dir === '/') throw usageError('the URL names no directory to create');
        await withClient(urlText, opts, async (client, url) => {
          await client.mkdir(dir, { parents: opts.parents === true });
          if (opts.json) printJson({ url: formatFtpUrl(url), created: dir });
          else say(opts, `created ${formatFtpUrl(url)}`);
        });
      }),
    );

  addCommon(
    group
      .command('mv')
      .description('rename or move a remote file or directory (RNFR/RNTO)')
      .argument('<url>', 'ftp://…/dir/old')
      .argument('<newpath>', "new name: relative to the URL's directory, or /absolute"),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp mv ftp://alice:secret@127.0.0.1:2121/docs/draft.txt final.txt
  $ netkit ftp mv ftp://alice:secret@127.0.0.1:2121/docs/final.txt /archive/final.txt`,
    )
    .action(
      action(async (urlText: string, newPath: string, opts: CommonOptions) => {
        await withClient(urlText, opts, async (client, url) => {
          let to = newPath;
          if (/^ftps?:\/\//i.test(newPath)) {
            const other = parseFtpUrl(newPath);
            if (other.host !== url.host || other.port !== url.port)
              throw usageError('mv works on one server: NEWPATH must be on the same host and port');
            to = other.path;
          } else if (!newPath.startsWith('/'))
            to = joinRemote(remoteDirname(url.path.replace(/\/+$/, '')), newPath);
          if (/[\r\n\0]/.test(to)) throw usageError('NEWPATH contains CR, LF or NUL');
          const from = url.path.replace(/(.)\/+$/, '$1');
          await client.rename(from, to);
          if (opts.json) printJson({ from: formatFtpUrl(url, from), to: formatFtpUrl(url, to) });
          else say(opts, `renamed ${formatFtpUrl(url, from)} -> ${formatFtpUrl(url, to)}`);
        });
      }),
    );

  addTreeOptions(
    addListingOptions(
      addDownloadOptions(
        addTransferOptions(
          addCommon(
            group
              .command('mirror')
              .description('download a remote tree (mirror URL DIR) or upload one (mirror --reverse DIR URL)')
              .argument('<source>', 'remote URL (or local DIR with --reverse)')
              .argument('<target>', 'local DIR (or remote URL with --reverse)')
              .option('-R, --reverse', 'upload: local DIR to the remote URL')
              .option('--only-newer', 'transfer only files newer than the target copy')
              .option('--delete', 'delete target files that are not in the source')
              .option('-n, --dry-run', 'show what would be done, change nothing'),
          ),
        ),
      ),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp mirror ftp://127.0.0.1:2121/pub/ ./pub-copy
  $ netkit ftp mirror ftp://alice:secret@127.0.0.1:2121/site/ ./site --only-newer --delete
  $ netkit ftp mirror --reverse ./site ftp://alice:secret@127.0.0.1:2121/site/ --delete
  $ netkit ftp mirror --reverse ./site ftp://alice@127.0.0.1:2121/site/ --dry-run --json
  $ netkit ftp mirror ftp://ftp.example.org/pub/ ./pub --max-entries 500000 --max-listing-size 200M`,
    )
    .action(
      action(
        async (
          source: string,
          target: string,
          opts: CommonOptions & {
            reverse?: boolean;
            onlyNewer?: boolean;
            delete?: boolean;
            dryRun?: boolean;
          },
        ) => {
          if (opts.reverse && opts.maxFilesize !== undefined)
            throw usageError('--max-filesize limits downloads; mirror --reverse uploads');
          const [urlText, localDir] = opts.reverse ? [target, source] : [source, target];
          if (/^ftps?:\/\//i.test(localDir))
            throw usageError(
              opts.reverse
                ? 'mirror --reverse takes a local DIR, then the URL'
                : 'mirror takes the URL, then a local DIR (use --reverse to upload)',
            );
          await withClient(urlText, opts, async (client, url) => {
            const req: MirrorRequest = {
              reverse: opts.reverse === true,
              remoteDir: url.path.replace(/(.)\/+$/, '$1'),
              localDir,
              onlyNewer: opts.onlyNewer === true,
              delete: opts.delete === true,
              dryRun: opts.dryRun === true,
              maxEntries: opts.maxEntries,
            };
            let current: MirrorAction | undefined;
            await interruptible(
              client,
              () => mirrorInterruptedNote(req, current),
              () =>
                runMirror(client, req, {
                  ...opts,
                  onAction: (a) => {
                    current = a;
                  },
                }),
            );
          });
        },
      ),
    );
}
