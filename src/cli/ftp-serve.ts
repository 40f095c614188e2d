/**
 * `netkit ftp serve`: the CLI over {@link createFtpServer}. Parses flags, announces the listening
 * sockets (the plain port, and the implicit-FTPS one with `--tls-port`), prints the session log
 * (logins, finished transfers, disconnects) and, with `--trace`, the control conversation. The FTP
 * client subcommands live in ftp-client.ts.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DATA_DIR, resolveDataDir } from '../core/datadir.js';
import { usageError } from '../core/errors.js';
import { DEFAULT_PERMISSIONS, Permissions } from '../ftp/permissions.js';
import {
  createFtpServer,
  DEFAULT_FTP_LIMITS,
  DEFAULT_FTP_PORT,
  type FtpServerHandle,
} from '../ftp/server.js';
import type { FtpSessionEvent, FtpWarning } from '../ftp/session.js';
import { type LossyOutput, maxLogBacklogOption, serverLog } from './stdout.js';
import { checkNamable } from './unnamable-path.js';
import {
  action,
  announceListening,
  bytesOption,
  checkReadable,
  dim,
  durationOption,
  formatBytes,
  onShutdown,
  parseBytes,
  parseNonNegative,
  parsePort,
  parsePortRangeOption,
  parsePositive,
  parseRateOption,
  printJson,
  printTrace,
} from './util.js';

interface ServeOptions {
  root?: string;
  data?: string;
  host: string;
  port: number;
  tlsPort?: number;
  handshakeTimeout: number;
  passivePorts?: [number, number];
  publicHost?: string;
  anonymous: boolean;
  anonymousUpload?: boolean;
  requireTls?: boolean;
  allowPlaintext?: boolean;
  tls: boolean;
  maxClients: number;
  maxPerIp: number;
  idleTimeout: number;
  maxLineLength: number;
  maxQueue: number;
  dataTimeout: number;
  dataIdleTimeout: number;
  loginDelay: number;
  maxLoginFailures: number;
  lockout: number;
  permsReal: string;
  permsGuest: string;
  permsAnonymous: string;
  permsIncoming: string;
  guestOverwrite?: boolean;
  maxUploadSize: number;
  minFreeSpace: number;
  maxDownloadRate: number;
  maxUploadRate: number;
  anonymousMaxRate: number;
  cert?: string;
  key?: string;
  json?: boolean;
  trace?: boolean;
  quiet?: boolean;
  maxLogBacklog: number;
}

function parsePerms(value: string): string {
  try {
    return new Permissions(value).toString();
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * The session log: one line per login, finished transfer and disconnect (human or JSON), on the
 * server's bounded stdout.
 */
function logSessions(server: FtpServerHandle, json: boolean, out: LossyOutput): void {
  const time = () => new Date().toTimeString().slice(0, 8);
  server.on('session', (ev: FtpSessionEvent) => {
    const who = ev.user ? `${ev.user} (${ev.class})` : ev.ip;
    let human: string | undefined;
    if (ev.event === 'login') human = `#${ev.id} ${who} logged in from ${ev.ip}`;
    else if (ev.event === 'close') human = `#${ev.id} ${who} disconnected`;
    else if (ev.event === 'transfer' && ev.transfer && ev.transfer.state !== 'running') {
      const t = ev.transfer;
      if (t.direction === 'list') return;
      const verb = t.direction === 'download' ? 'downloaded' : 'uploaded';
      human = `#${ev.id} ${who} ${t.state === 'done' ? verb : `${verb} (FAILED)`} ${t.file} ${formatBytes(t.bytes)}`;
    }
    if (human === undefined) return;
    if (json) out.print(() => printJson({ ts: Date.now(), ...ev }));
    else out.line(`${dim(time())} ${human}`);
  });
}

export function register(ftp: Command): void {
  ftp
    .command('serve')
    .description(
      'run the FTP server: real, guest and anonymous accounts, FTPS (AUTH TLS, implicit), passive and active mode',
    )
    .option('--root <dir>', 'the FTP tree: home/NAME, guest/, pub/, incoming/ (default DATA/ftp)')
    .option('--data <dir>', 'data directory with accounts.json and tls/ (default ./netkit-data)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--port <port>',
      'control port, AUTH TLS offered (0 = any free port)',
      parsePort,
      DEFAULT_FTP_PORT,
    )
    .option(
      '--tls-port <port>',
      'also listen with implicit TLS (FTPS: TLS from the first byte, data protected) on this port',
      parsePort,
    )
    .option(
      '--passive-ports <range>',
      'passive data ports, e.g. 50000-50100 (default: any free port)',
      parsePortRangeOption,
    )
    .option('--public-host <host>', 'IPv4 address PASV announces (behind NAT)')
    .option('--no-anonymous', 'refuse anonymous logins (anonymous, ftp)')
    .option('--anonymous-upload', 'offer the anonymous write-only incoming/ drop box')
    .option('--require-tls', 'refuse login before AUTH TLS and data without PROT P')
    .option('--allow-plaintext', 'accept account passwords without TLS from non-loopback clients too')
    .option('--no-tls', 'do not offer AUTH TLS (and no --tls-port)')
    .option('--cert <file>', 'TLS certificate (PEM) instead of the development certificate')
    .option('--key <file>', 'TLS private key (PEM)')
    .option('--max-clients <n>', 'connections at most (both ports together)', parsePositive, 256)
    .option('--max-per-ip <n>', 'connections per client address (both ports together)', parsePositive, 32)
    .option(
      '--max-line-length <bytes>',
      `longest command line after login (500 beyond; ${DEFAULT_FTP_LIMITS.maxPreLoginLineLength} before login)`,
      parsePositive,
      DEFAULT_FTP_LIMITS.maxLineLength,
    )
    .addOption(
      bytesOption(
        '--max-queue <bytes>',
        'drop a client whose unread control replies pass this size',
        DEFAULT_FTP_LIMITS.maxOutboundBytes,
      ),
    )
    .addOption(
      durationOption(
        '--idle-timeout <duration>',
        'close idle control connections (421)',
        DEFAULT_FTP_LIMITS.idleTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        '--data-timeout <duration>',
        'wait this long for a data connection (then 425)',
        DEFAULT_FTP_LIMITS.dataConnectTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        '--data-idle-timeout <duration>',
        'end a transfer whose data connection moves nothing this long (426), e.g. a client that stopped reading',
        DEFAULT_FTP_LIMITS.dataIdleTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        '--handshake-timeout <duration>',
        'drop a client whose TLS handshake (--tls-port, AUTH TLS) takes longer (0 = only --idle-timeout)',
        DEFAULT_FTP_LIMITS.tlsHandshakeTimeoutMs,
      ),
    )
    .addOption(durationOption('--login-delay <duration>', 'delay after a failed login', 1000))
    .option(
      '--max-login-failures <n>',
      'failed logins per IP before a lockout (0 = never)',
      parseNonNegative,
      5,
    )
    .addOption(durationOption('--lockout <duration>', 'how long a locked-out IP waits', 60_000))
    .option('--perms-real <letters>', 'permissions of real accounts', parsePerms, DEFAULT_PERMISSIONS.real)
    .option('--perms-guest <letters>', 'permissions of guest accounts', parsePerms, DEFAULT_PERMISSIONS.guest)
    .option(
      '--perms-anonymous <letters>',
      'anonymous permissions in pub/',
      parsePerms,
      DEFAULT_PERMISSIONS.anonymous,
    )
    .option(
      '--perms-incoming <letters>',
      'anonymous permissions in incoming/',
      parsePerms,
      DEFAULT_PERMISSIONS.incoming,
    )
    .option('--guest-overwrite', 'let guests overwrite existing files')
    .addOption(
      new Option(
        '--max-upload-size <size>',
        'largest file an upload may leave, e.g. 100M, 2G (0 = no limit); more gets 552 and is discarded',
      )
        .argParser(parseBytes)
        .default(DEFAULT_FTP_LIMITS.maxUploadBytes, 'no limit'),
    )
    .addOption(
      new Option(
        '--min-free-space <size>',
        'uploads stop (452) while the disk holding them has less free (0 = no check)',
      )
        .argParser(parseBytes)
        .default(DEFAULT_FTP_LIMITS.minFreeBytes, '100M'),
    )
    .addOption(
      new Option('--max-download-rate <rate>', 'bytes per second for each download, e.g. 500K, 10M')
        .argParser(parseRateOption)
        .default(0, 'unlimited'),
    )
    .addOption(
      new Option('--max-upload-rate <rate>', 'bytes per second for each upload')
        .argParser(parseRateOption)
        .default(0, 'unlimited'),
    )
    .addOption(
      new Option(
        '--anonymous-max-rate <rate>',
        'bytes per second for each anonymous transfer, either way (the lower limit wins)',
      )
        .argParser(parseRateOption)
        .default(0, 'as everyone'),
    )
    .option('--json', 'print the listening address and the session log as JSON lines')
    .option('--trace', 'print the control conversation on stderr (C: / S:, PASS hidden)')
    .option('-q, --quiet', 'do not print the session log')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Accounts come from DATA/accounts.json (netkit user add NAME --password P --data DIR):
class "real" gets home/NAME with full rights; class "guest" (optional expiry) shares guest/.
Anonymous users (anonymous or ftp, any e-mail as password) read pub/ and may drop files into
incoming/ with --anonymous-upload.

Permission letters (pyftpdlib's): e cwd, l list, r download, a append, d delete, f rename,
m mkdir, w upload, M site chmod, T mfmt.

Disk and bandwidth: --max-upload-size caps each uploaded file (552 "Exceeded storage allocation";
the partial upload is removed, a resumed or appended file cut back to what it was); uploads keep
--min-free-space (default 100 MiB) free on the disk (452 "Insufficient storage space", before
the transfer or during it; what was written is kept for a resume). ALLO sizes are checked against
both. Rates apply to each transfer (vsftpd's local_max_rate / anon_max_rate).

FTPS: the control port offers explicit TLS (AUTH TLS, then PBSZ 0 / PROT P). --tls-port adds an
implicit-TLS port (curl's and lftp's ftps://, FileZilla's "implicit FTP over TLS"): TLS from the
first byte, data connections protected unless the client sends PROT C, AUTH answered 503. Both
ports share accounts, sessions and the --max-clients/--max-per-ip counts; over a limit the TLS
port closes the connection without a reply (there is no TLS session yet to send 421 in).

Examples:
  $ netkit ftp serve                                  127.0.0.1:2121, tree in ./netkit-data/ftp
  $ netkit ftp serve --root /srv/ftp --anonymous-upload --passive-ports 50000-50100
  $ netkit ftp serve --port 0 --json                  any free port; JSON address line and session log
  $ netkit ftp serve --host 0.0.0.0 --public-host 203.0.113.7 --require-tls --no-anonymous
  $ netkit ftp serve --anonymous-upload --max-upload-size 50M --anonymous-max-rate 1M
  $ netkit ftp serve --tls-port 9900                  plain 2121 (AUTH TLS) and implicit FTPS 9900
  ftp listening on 127.0.0.1:2121
  ftp listening on 127.0.0.1:9900 (tls)
  $ netkit ftp serve --trace                          watch USER / PASS **** / RETR … live
  $ echo hello > netkit-data/ftp/pub/hello.txt        pub/ starts empty: anonymous users read what you put there
  $ curl ftp://127.0.0.1:2121/pub/                    list pub/ anonymously
  $ curl -k ftps://127.0.0.1:9900/pub/hello.txt       download over implicit FTPS (-k: dev cert)
  $ netkit ftp ls ftps://127.0.0.1:9900/pub/          our client (trusts ./netkit-data/tls/dev-cert.pem)
  $ python3 -c "import ftplib; print(ftplib.FTP().connect('127.0.0.1', 2121))"   the greeting`,
    )
    .action(
      action(async (opts: ServeOptions) => {
        if ((opts.cert === undefined) !== (opts.key === undefined))
          throw usageError('--cert and --key must be given together');
        if (!opts.tls && opts.tlsPort !== undefined) throw usageError('--tls-port needs TLS: drop --no-tls');
        if (opts.tls) {
          await checkReadable('--cert', opts.cert);
          await checkReadable('--key', opts.key);
        }
        const dataDir = resolveDataDir(opts.data);
        const root = path.resolve(opts.root ?? path.join(dataDir, 'ftp'));
        // before anything is created under a mangled name
        checkNamable(
          opts.root !== undefined ? `--root ${opts.root}` : `the FTP root ${root}`,
          opts.root ?? opts.data ?? process.env.NETKIT_DATA ?? DEFAULT_DATA_DIR,
        );
        const tls = !opts.tls ? false : opts.cert || opts.key ? { cert: opts.cert, key: opts.key } : true;
        const server = await createFtpServer({
          root,
          dataDir,
          host: opts.host,
          port: opts.port,
          ...(opts.tlsPort !== undefined ? { tlsPort: opts.tlsPort } : {}),
          tls,
          requireTls: opts.requireTls === true,
          allowPlaintext: opts.allowPlaintext === true,
          anonymous: opts.anonymous,
          anonymousUpload: opts.anonymousUpload === true,
          guestOverwrite: opts.guestOverwrite === true,
          permissions: {
            real: opts.permsReal,
            guest: opts.permsGuest,
            anonymous: opts.permsAnonymous,
            incoming: opts.permsIncoming,
          },
          ...(opts.passivePorts ? { passivePorts: opts.passivePorts } : {}),
          ...(opts.publicHost ? { publicHost: opts.publicHost } : {}),
          maxClients: opts.maxClients,
          maxClientsPerIp: opts.maxPerIp,
          loginFailureDelayMs: opts.loginDelay,
          maxLoginFailures: opts.maxLoginFailures,
          lockoutMs: opts.lockout,
          limits: {
            maxLineLength: opts.maxLineLength,
            maxOutboundBytes: opts.maxQueue,
            idleTimeoutMs: opts.idleTimeout,
            dataConnectTimeoutMs: opts.dataTimeout,
            dataIdleTimeoutMs: opts.dataIdleTimeout,
            tlsHandshakeTimeoutMs: opts.handshakeTimeout,
            maxUploadBytes: opts.maxUploadSize,
            minFreeBytes: opts.minFreeSpace,
            downloadRate: opts.maxDownloadRate,
            uploadRate: opts.maxUploadRate,
            anonymousRate: opts.anonymousMaxRate,
          },
        });
        const log = serverLog(opts.maxLogBacklog, opts.trace ? undefined : ['warning', 'warnings']);
        onShutdown(() => server.close().then(log.report));
        announceListening('ftp', server, { json: opts.json });
        if (server.tlsPort !== undefined) {
          announceListening(
            'ftp',
            { host: server.host, port: server.tlsPort },
            { json: opts.json, tls: true },
          );
        }
        if (!opts.json) {
          process.stdout.write(`${dim(`ftp root ${root}${tls ? '; AUTH TLS offered' : ''}`)}\n`);
        }
        if (opts.trace) printTrace(server, 'server', log.err);
        // server-side problems (a corrupt accounts file) reach stderr even with -q; --trace shows them already
        else server.on('warning', (w: FtpWarning) => log.err.line(`ftp: #${w.id} ${w.text}`));
        if (!opts.quiet) logSessions(server, opts.json === true, log.log);
      }),
    );
}
