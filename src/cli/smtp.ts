/**
 * `netkit smtp serve`: the CLI over {@link createSmtpServer}. Parses flags, announces the listening
 * sockets, prints one line per stored message (or a JSON record with `--json`) and, with
 * `--trace`, the SMTP conversation on stderr.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MIN_FREE_BYTES } from '../core/disk-space.js';
import { usageError } from '../core/errors.js';
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';
import type { BareLineEndingPolicy } from '../mail/smtp-data.js';
import {
  createSmtpServer,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_CLIENTS_PER_IP,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_MAX_MAILBOXES,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_RECIPIENTS,
  DEFAULT_SMTP_IDLE_MS,
  DEFAULT_SMTP_PORT,
  type SmtpMessageEvent,
  type SmtpServerOptions,
} from '../mail/smtp-server.js';
import { type LossyOutput, maxLogBacklogOption, serverLog } from './stdout.js';
import {
  action,
  announceListening,
  checkReadable,
  dim,
  durationOption,
  flagValue,
  formatBytes,
  onShutdown,
  parseBytes,
  parseNonNegative,
  parsePort,
  parsePositive,
  parsePositiveBytes,
  printJson,
  printTrace,
} from './util.js';

interface ServeOptions {
  host: string;
  port: number;
  tlsPort?: number;
  data?: string;
  strict?: boolean;
  authAcceptAny?: boolean;
  allowPlaintext?: boolean;
  maxSize: number;
  maxMessages: number;
  tls: boolean;
  cert?: string;
  key?: string;
  json?: boolean;
  trace?: boolean;
  quiet?: boolean;
  maxLogBacklog: number;
}

/** The --bare-newlines policies as --help and completion offer them (the README's spelling). */
const BARE_NEWLINE_POLICIES: readonly BareLineEndingPolicy[] = ['reject', 'normalise'];

/** Any case, and `normalize` too: both spellings have always been accepted. */
function parseBareNewlines(value: string): BareLineEndingPolicy {
  const v = value.toLowerCase().replace(/^normalize$/, 'normalise');
  const policy = BARE_NEWLINE_POLICIES.find((p) => p === v);
  if (!policy) throw new InvalidArgumentError(`Allowed choices are ${BARE_NEWLINE_POLICIES.join(', ')}.`);
  return policy;
}

/** One line per stored message, on the server's bounded stdout. */
export function logMessages(
  server: { on(event: 'message', l: (ev: SmtpMessageEvent) => void): unknown },
  json: boolean,
  out: LossyOutput,
) {
  const time = () => new Date().toTimeString().slice(0, 8);
  server.on('message', (ev) => {
    if (json) {
      const { transcript: _t, ...rest } = ev;
      out.print(() => printJson({ event: 'message', ...rest }));
    } else {
      const who = ev.from ? `<${ev.from}>` : '<>';
      out.line(
        `${dim(time())} ${ev.mailbox} ← ${who} ${formatBytes(ev.size)}${ev.user ? ` (auth ${ev.user})` : ''} ${dim(ev.id)}`,
      );
    }
  });
}

/**
 * The SMTP server's limits and policies as options: unprefixed on `smtp serve`, and on
 * `mail serve` (where POP3 has limits of its own) the per-session ones as `--smtp-max-clients`,
 * `--smtp-max-per-ip`, `--smtp-max-line-length`, `--smtp-idle-timeout`, `--smtp-auth-delay`,
 * `--smtp-handshake-timeout`.
 */
export function smtpTuningOptions(prefix: '' | 'smtp-'): Option[] {
  return [
    new Option('--require-auth', 'refuse MAIL FROM before a successful AUTH'),
    new Option('--max-recipients <n>', 'recipients per message')
      .argParser(parsePositive)
      .default(DEFAULT_MAX_RECIPIENTS),
    new Option(
      '--max-mailboxes <n>',
      'without --strict: mailboxes made on first delivery, at most; one more gets 452 4.3.1 (0 = no cap)',
    )
      .argParser(parseNonNegative)
      .default(DEFAULT_MAX_MAILBOXES),
    new Option(`--${prefix}max-clients <n>`, 'simultaneous SMTP sessions')
      .argParser(parsePositive)
      .default(DEFAULT_MAX_CLIENTS),
    new Option(`--${prefix}max-per-ip <n>`, 'simultaneous SMTP sessions from one client address')
      .argParser(parsePositive)
      .default(DEFAULT_MAX_CLIENTS_PER_IP),
    new Option(`--${prefix}max-line-length <bytes>`, 'longest SMTP command line')
      .argParser(parsePositive)
      .default(DEFAULT_MAX_LINE_LENGTH),
    durationOption(
      `--${prefix}idle-timeout <duration>`,
      'drop idle SMTP sessions (421)',
      DEFAULT_SMTP_IDLE_MS,
    ),
    durationOption(`--${prefix}auth-delay <duration>`, 'pause before answering a failed AUTH', 1000),
    durationOption(
      `--${prefix}handshake-timeout <duration>`,
      'drop an SMTP client whose TLS handshake (TLS port, STARTTLS) takes longer (0 = only the idle timeout)',
      DEFAULT_TLS_HANDSHAKE_MS,
    ),
    durationOption(
      '--greeting-delay <duration>',
      'wait before the 220 greeting; above 0 a client that talks before it gets 421, at 0 early commands are answered after the greeting',
      0,
    ),
    new Option('--bare-newlines <policy>', 'bare CR/LF in DATA: reject (550 5.6.0) or normalise to CRLF')
      // choices() for --help and completion; the parser after it also takes "normalize"
      .choices(BARE_NEWLINE_POLICIES)
      .argParser(parseBareNewlines)
      .default('reject'),
    new Option('--hostname <name>', 'server name in the greeting and Received headers (default: this host)'),
    new Option(
      '--min-free-space <size>',
      'keep this much free on the disk of the Maildirs: below it, MAIL FROM and DATA get 452 4.3.1 (0 = no check)',
    )
      .argParser(parseBytes)
      .default(DEFAULT_MIN_FREE_BYTES, '100M'),
  ];
}

/** The values of {@link smtpTuningOptions}, for createSmtpServer. */
export function smtpTuning(
  opts: Record<string, unknown>,
  prefix: '' | 'smtp-',
): Pick<
  SmtpServerOptions,
  | 'requireAuth'
  | 'maxRecipients'
  | 'maxMailboxes'
  | 'maxClients'
  | 'maxClientsPerIp'
  | 'maxLineLength'
  | 'socketTimeout'
  | 'authFailureDelay'
  | 'tlsHandshakeTimeoutMs'
  | 'greetingDelay'
  | 'bareLineEndings'
  | 'hostname'
  | 'minFreeBytes'
> {
  const get = <T>(flag: string) => flagValue(opts, flag) as T;
  return {
    requireAuth: get<boolean | undefined>('require-auth'),
    maxRecipients: get<number>('max-recipients'),
    maxMailboxes: get<number>('max-mailboxes'),
    maxClients: get<number>(`${prefix}max-clients`),
    maxClientsPerIp: get<number>(`${prefix}max-per-ip`),
    maxLineLength: get<number>(`${prefix}max-line-length`),
    socketTimeout: get<number>(`${prefix}idle-timeout`),
    authFailureDelay: get<number>(`${prefix}auth-delay`),
    tlsHandshakeTimeoutMs: get<number>(`${prefix}handshake-timeout`),
    greetingDelay: get<number>('greeting-delay'),
    bareLineEndings: get<BareLineEndingPolicy>('bare-newlines'),
    hostname: get<string | undefined>('hostname'),
    minFreeBytes: get<number>('min-free-space'),
  };
}

export function register(program: Command): void {
  const smtp = program
    .command('smtp')
    .description('SMTP server with Maildir delivery')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit smtp serve                               SMTP on 127.0.0.1:2525, mail in ./netkit-data/mail/
  $ netkit smtp serve --port 0 --json --trace       any free port; JSON lines; the conversation on stderr
  $ netkit mail send --to bob@lab --subject hi --text hello     send it a message
  $ netkit pop3 serve                               read the same mailboxes over POP3`,
    );
  const serve = smtp
    .command('serve')
    .description(
      'receive mail over SMTP (ESMTP, PIPELINING, STARTTLS, AUTH) and store it durably in one Maildir per recipient; never relays',
    )
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'SMTP port, STARTTLS offered (0 = any free port)', parsePort, DEFAULT_SMTP_PORT)
    .option('--tls-port <port>', 'also listen with implicit TLS (SMTPS) on this port, e.g. 4650', parsePort)
    .option(
      '--data <dir>',
      'data directory: mail/MAILBOX Maildirs, accounts.json, tls/ (default ./netkit-data)',
    )
    .option(
      '--strict',
      'accept only recipients that exist as accounts (netkit user add), and postmaster; default: any mailbox',
    )
    .option('--auth-accept-any', 'lab mode: every AUTH succeeds, whatever the name and password')
    .option('--allow-plaintext', 'offer AUTH without TLS to non-loopback clients too')
    .addOption(
      new Option('--max-size <size>', 'largest message accepted (SIZE), e.g. 10M')
        .argParser(parsePositiveBytes)
        .default(DEFAULT_MAX_MESSAGE_SIZE, '25M'),
    )
    .option(
      '--max-messages <n>',
      'keep at most N messages per mailbox, oldest removed, never under a POP3 session (0 = unlimited)',
      parseNonNegative,
      0,
    );
  for (const option of smtpTuningOptions('')) serve.addOption(option);
  serve
    .option('--no-tls', 'no STARTTLS and no TLS port')
    .option('--cert <file>', 'TLS certificate (PEM) instead of the development certificate')
    .option('--key <file>', 'TLS private key (PEM)')
    .option('--json', 'print listening sockets and stored messages as JSON lines')
    .option('--trace', 'print the SMTP conversation on stderr (AUTH redacted)')
    .option('-q, --quiet', 'do not print stored messages')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Examples:
  $ netkit smtp serve                               SMTP on 127.0.0.1:2525, mail in ./netkit-data/mail/
  $ netkit smtp serve --port 0 --json               any free port; JSON lines for sockets and messages
  $ netkit smtp serve --tls-port 4650 --trace       also SMTPS (implicit TLS), print the conversation
  $ netkit smtp serve --strict --require-auth       only known accounts, only after AUTH
  $ netkit smtp serve --max-messages 500 --max-size 5M
  $ swaks --server 127.0.0.1:2525 --to bob@lab.test --pipeline
  $ curl --crlf smtp://127.0.0.1:2525 --mail-from a@lab.test --mail-rcpt bob@lab.test -T message.eml

Each recipient's local part names a mailbox (bob@anything → DATA/mail/bob/); the 250 after DATA is
sent only once every copy is fsynced in the Maildir. Messages with bare CR or LF are refused
(curl --crlf sends a file with Unix line ends as CRLF).`,
    )
    .action(
      action(async (opts: ServeOptions) => {
        if (!opts.tls && opts.tlsPort !== undefined) {
          throw usageError('--tls-port needs TLS (remove --no-tls)');
        }
        if ((opts.cert === undefined) !== (opts.key === undefined)) {
          throw usageError('--cert and --key must be given together');
        }
        if (opts.tls) {
          await checkReadable('--cert', opts.cert);
          await checkReadable('--key', opts.key);
        }
        const server = await createSmtpServer({
          dataDir: opts.data,
          host: opts.host,
          port: opts.port,
          tlsPort: opts.tlsPort,
          tls: opts.tls ? { cert: opts.cert, key: opts.key } : false,
          strict: opts.strict,
          authAcceptAny: opts.authAcceptAny,
          allowPlaintextAuth: opts.allowPlaintext,
          maxSize: opts.maxSize,
          maxMessages: opts.maxMessages || undefined,
          ...smtpTuning(opts as unknown as Record<string, unknown>, ''),
        });
        const log = serverLog(opts.maxLogBacklog);
        onShutdown(() => server.close().then(log.report));
        announceListening('smtp', server, { json: opts.json });
        if (server.tlsPort !== undefined) {
          announceListening(
            'smtp',
            { host: server.host, port: server.tlsPort },
            { json: opts.json, tls: true },
          );
        }
        if (opts.trace) printTrace(server, 'server', log.err);
        if (!opts.quiet) logMessages(server, opts.json === true, log.log);
      }),
    );
}
