/**
 * `netkit pop3 serve`: the CLI face of `createPop3Server()` — parse flags, announce the listening
 * sockets, print one line per session event (login, failed login, quit) or JSON with `--json`, the
 * trace on request, and close gracefully on SIGINT/SIGTERM.
 */
import { type Command, Option } from 'commander';
import { DEFAULT_MAX_OUTBOUND } from '../core/connection.js';
import { resolveDataDir } from '../core/datadir.js';
import { usageError } from '../core/errors.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_IP } from '../core/server.js';
import { jsonTerminalSafe } from '../core/terminal-safe.js';
import { loadTls } from '../core/tls.js';
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';
import {
  createPop3Server,
  DEFAULT_FAILED_LOGIN_DELAY_MS,
  DEFAULT_POP3_IDLE_MS,
  DEFAULT_POP3_MAX_LINE,
  POP3_DEFAULT_PORT,
  type Pop3AuthFailedEvent,
  type Pop3LoginEvent,
  type Pop3QuitEvent,
  type Pop3ServerHandle,
  type Pop3ServerOptions,
} from '../mail/pop3-server.js';
import { type LossyOutput, maxLogBacklogOption, serverLog } from './stdout.js';
import {
  action,
  announceListening,
  bytesOption,
  checkReadable,
  dim,
  durationOption,
  flagValue,
  onShutdown,
  parsePort,
  parsePositive,
  printJson,
  printTrace,
} from './util.js';

interface ServeFlags {
  host: string;
  port: number;
  tlsPort?: number;
  data?: string;
  allowPlaintext?: boolean;
  authAcceptAny?: boolean;
  cert?: string;
  key?: string;
  json?: boolean;
  trace?: boolean;
  quiet?: boolean;
  maxLogBacklog: number;
}

/**
 * One line per login, failed login and QUIT (not per message: a download may be thousands), on
 * the server's bounded stdout.
 */
export function logSessions(server: Pop3ServerHandle, json: boolean, out: LossyOutput): void {
  const time = () => dim(new Date().toTimeString().slice(0, 8));
  const printRecord = (rec: Record<string, unknown>) => out.print(() => printJson(rec));
  server.on('login', (ev: Pop3LoginEvent) => {
    if (json) printRecord({ event: 'login', ...ev });
    else
      out.line(
        `${time()} ${ev.mailbox} logged in from ${ev.peer} (${ev.mechanism}${ev.secure ? ', tls' : ''}): ${ev.messages} message${ev.messages === 1 ? '' : 's'}`,
      );
  });
  server.on('auth-failed', (ev: Pop3AuthFailedEvent) => {
    if (json) printRecord({ event: 'auth-failed', ...ev });
    // the name is the client's: quoted, with what a terminal would act on escaped
    else out.line(`${time()} failed login for ${jsonTerminalSafe(JSON.stringify(ev.user))} from ${ev.peer}`);
  });
  server.on('quit', (ev: Pop3QuitEvent) => {
    if (!ev.mailbox) return;
    if (json) printRecord({ event: 'quit', ...ev });
    else out.line(`${time()} ${ev.mailbox} quit: ${ev.retrieved} retrieved, ${ev.deleted.length} deleted`);
  });
}

/**
 * The POP3 server's limits as options: unprefixed on `pop3 serve`, `--pop3-…` on `mail serve`
 * (where SMTP has limits of its own).
 */
export function pop3TuningOptions(prefix: '' | 'pop3-'): Option[] {
  return [
    durationOption(
      `--${prefix}login-delay <duration>`,
      'pause before answering a failed POP3 login (e.g. 500ms, 2s)',
      DEFAULT_FAILED_LOGIN_DELAY_MS,
    ),
    durationOption(
      `--${prefix}idle-timeout <duration>`,
      'close POP3 sessions idle this long (RFC 1939: ≥ 10 min; 0 = never)',
      DEFAULT_POP3_IDLE_MS,
    ),
    durationOption(
      `--${prefix}handshake-timeout <duration>`,
      `drop a POP3 client whose TLS handshake (--${prefix}tls-port, STLS) takes longer (0 = only the idle timeout)`,
      DEFAULT_TLS_HANDSHAKE_MS,
    ),
    new Option(
      `--${prefix}max-connections <n>`,
      'simultaneous POP3 connections, the plain and the TLS port together',
    )
      .argParser(parsePositive)
      .default(DEFAULT_MAX_CONNECTIONS),
    new Option(
      `--${prefix}max-per-ip <n>`,
      'simultaneous POP3 connections from one client address (both ports)',
    )
      .argParser(parsePositive)
      .default(DEFAULT_MAX_PER_IP),
    new Option(
      `--${prefix}max-line-length <bytes>`,
      'longest POP3 command line (longer: -ERR, and a line of over 1 MiB closes the connection)',
    )
      .argParser(parsePositive)
      .default(DEFAULT_POP3_MAX_LINE),
    bytesOption(
      `--${prefix}max-queue <bytes>`,
      'drop a POP3 client whose unread replies pass this size (RETR and TOP data waits instead)',
      DEFAULT_MAX_OUTBOUND,
    ),
  ];
}

/** The values of {@link pop3TuningOptions}, for createPop3Server. */
export function pop3Tuning(
  opts: Record<string, unknown>,
  prefix: '' | 'pop3-',
): Pick<
  Pop3ServerOptions,
  | 'failedLoginDelayMs'
  | 'idleTimeoutMs'
  | 'tlsHandshakeTimeoutMs'
  | 'maxConnections'
  | 'maxConnectionsPerIp'
  | 'maxLineLength'
  | 'maxOutboundBytes'
> {
  const get = (flag: string) => flagValue(opts, flag) as number;
  return {
    failedLoginDelayMs: get(`${prefix}login-delay`),
    idleTimeoutMs: get(`${prefix}idle-timeout`),
    tlsHandshakeTimeoutMs: get(`${prefix}handshake-timeout`),
    maxConnections: get(`${prefix}max-connections`),
    maxConnectionsPerIp: get(`${prefix}max-per-ip`),
    maxLineLength: get(`${prefix}max-line-length`),
    maxOutboundBytes: get(`${prefix}max-queue`),
  };
}

export function register(group: Command): void {
  const serve = group
    .command('serve')
    .description('POP3 server over the Maildirs in the data directory (RFC 1939, CAPA, STLS, AUTH PLAIN)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'POP3 port, STLS offered (0 = any free port)', parsePort, POP3_DEFAULT_PORT)
    .option('--tls-port <port>', 'also listen with implicit TLS (POP3S) on this port', parsePort)
    .option('--data <dir>', 'data directory: Maildirs, accounts, certificate (default ./netkit-data)')
    .option('--allow-plaintext', 'accept USER/PASS and AUTH PLAIN without TLS from any address')
    .option('--auth-accept-any', 'lab mode: any password opens any mailbox name (created when new)')
    .option('--cert <file>', 'TLS certificate (PEM; default: a self-signed dev certificate in DATA/tls)')
    .option('--key <file>', 'TLS private key (PEM), with --cert');
  for (const option of pop3TuningOptions('')) serve.addOption(option);
  serve
    .option('--json', 'print listening sockets and session events (login, auth-failed, quit) as JSON lines')
    .option('-q, --quiet', 'do not print session events')
    .option('--trace', 'print the protocol conversation (C:/S:) on stderr, passwords hidden')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Mailboxes are Maildirs under DATA/mail/NAME (the ones \`netkit smtp serve\` delivers to); a user
logs in with the account name (\`netkit user add bob\`), and bob@any.domain means bob too.
Plaintext logins are accepted on loopback, after STLS, or on the TLS port (else --allow-plaintext).
DELE takes effect only after QUIT; a second session on a busy mailbox gets -ERR [IN-USE].

Examples:
  $ netkit user add bob --password s3cret
  $ netkit pop3 serve --port 1110 --tls-port 1995
  pop3 listening on 127.0.0.1:1110
  pop3 listening on 127.0.0.1:1995 (tls)
  02:41:07 bob logged in from 127.0.0.1:58668 (PLAIN): 2 messages
  02:41:07 bob quit: 1 retrieved, 1 deleted
  $ netkit pop3 serve --port 0 --auth-accept-any --trace --json
  $ netkit pop3 serve --host 0.0.0.0 --cert cert.pem --key key.pem
  $ curl pop3://bob:s3cret@127.0.0.1:1110/1`,
    )
    .action(
      action(async (flags: ServeFlags) => {
        if (Boolean(flags.cert) !== Boolean(flags.key)) throw usageError('--cert and --key go together');
        await checkReadable('--cert', flags.cert);
        await checkReadable('--key', flags.key);
        const dataDir = resolveDataDir(flags.data);
        const tls = await loadTls(dataDir, { cert: flags.cert, key: flags.key });
        const server = await createPop3Server({
          dataDir,
          host: flags.host,
          port: flags.port,
          tlsPort: flags.tlsPort,
          tls,
          allowPlaintext: flags.allowPlaintext,
          authAcceptAny: flags.authAcceptAny,
          ...pop3Tuning(flags as unknown as Record<string, unknown>, ''),
        });
        const log = serverLog(flags.maxLogBacklog);
        onShutdown(() => server.close().then(log.report));
        if (flags.trace) printTrace(server, 'server', log.err);
        if (!flags.quiet) logSessions(server, flags.json === true, log.log);
        announceListening('pop3', server, { json: flags.json });
        if (server.tlsPort !== undefined) {
          announceListening(
            'pop3',
            { host: server.host, port: server.tlsPort },
            { json: flags.json, tls: true },
          );
        }
      }),
    );
}
