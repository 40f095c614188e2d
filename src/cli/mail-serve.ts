/**
 * `netkit mail serve`: SMTP and POP3 together on one data directory — mail delivered by SMTP into
 * `DATA/mail/NAME/` is read back by POP3 as NAME. Each mailbox is a separate inbox. Every limit of
 * `smtp serve` and `pop3 serve` is here too, the per-session ones named per service
 * (`--smtp-max-clients`, `--pop3-max-clients`, …) as multi-service commands name their ports.
 */
import { type Command, Option } from 'commander';
import { resolveDataDir } from '../core/datadir.js';
import { usageError } from '../core/errors.js';
import { loadTls } from '../core/tls.js';
import { createPop3Server } from '../mail/pop3-server.js';
import { createSmtpServer, DEFAULT_MAX_MESSAGE_SIZE } from '../mail/smtp-server.js';
import { logSessions, pop3Tuning, pop3TuningOptions } from './pop3-serve.js';
import { logMessages, smtpTuning, smtpTuningOptions } from './smtp.js';
import { maxLogBacklogOption, serverLog } from './stdout.js';
import {
  action,
  announceListening,
  checkReadable,
  onShutdown,
  parseNonNegative,
  parsePort,
  parsePositiveBytes,
  printTrace,
} from './util.js';

interface MailServeFlags {
  host: string;
  data?: string;
  smtpPort: number;
  smtpTlsPort?: number;
  pop3Port: number;
  pop3TlsPort?: number;
  strict?: boolean;
  authAcceptAny?: boolean;
  allowPlaintext?: boolean;
  maxSize: number;
  maxMessages: number;
  cert?: string;
  key?: string;
  json?: boolean;
  trace?: boolean;
  quiet?: boolean;
  maxLogBacklog: number;
}

export function register(group: Command): void {
  const serve = group
    .command('serve')
    .description('SMTP and POP3 together on one data directory (one inbox per recipient)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--data <dir>', 'data directory (default ./netkit-data)')
    .option('--smtp-port <port>', 'SMTP port with STARTTLS (0 = any free port)', parsePort, 2525)
    .option('--smtp-tls-port <port>', 'also SMTP with implicit TLS on this port', parsePort)
    .option('--pop3-port <port>', 'POP3 port with STLS (0 = any free port)', parsePort, 1110)
    .option('--pop3-tls-port <port>', 'also POP3 with implicit TLS on this port', parsePort)
    .option('--strict', 'SMTP accepts only recipients that exist as accounts')
    .option('--auth-accept-any', 'lab mode: any name and password log in (SMTP AUTH and POP3)')
    .option('--allow-plaintext', 'accept passwords without TLS from non-loopback clients')
    .addOption(
      new Option('--max-size <size>', 'largest message accepted, e.g. 10M')
        .argParser(parsePositiveBytes)
        .default(DEFAULT_MAX_MESSAGE_SIZE, '25M'),
    )
    .option(
      '--max-messages <n>',
      'keep at most N messages per mailbox, oldest removed (0 = unlimited)',
      parseNonNegative,
      0,
    )
    .option('--cert <file>', 'TLS certificate (PEM) instead of the development certificate')
    .option('--key <file>', 'TLS private key (PEM)');
  for (const option of [...smtpTuningOptions('smtp-'), ...pop3TuningOptions('pop3-')])
    serve.addOption(option);
  serve
    .option('--json', 'print listening sockets, stored messages and POP3 sessions as JSON lines')
    .option('-q, --quiet', 'do not print stored messages and POP3 sessions')
    .option('--trace', 'print both conversations on stderr (passwords redacted)')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Examples:
  $ netkit mail serve                                   SMTP 2525 + POP3 1110 on ./netkit-data
  $ netkit mail serve --data /tmp/mail --smtp-port 0 --pop3-port 0 --json
  $ netkit mail serve --auth-accept-any --smtp-tls-port 4650 --pop3-tls-port 1995
  $ netkit mail serve --require-auth --smtp-max-per-ip 5 --pop3-max-per-ip 2 --pop3-idle-timeout 10m
  $ netkit mail send --to bob@lab --subject hi --text hello && curl pop3://bob:PASSWORD@127.0.0.1:1110/1`,
    )
    .action(
      action(async (flags: MailServeFlags) => {
        if (Boolean(flags.cert) !== Boolean(flags.key)) throw usageError('--cert and --key go together');
        await checkReadable('--cert', flags.cert);
        await checkReadable('--key', flags.key);
        const dataDir = resolveDataDir(flags.data);
        const tls = await loadTls(dataDir, { cert: flags.cert, key: flags.key });
        const smtp = await createSmtpServer({
          dataDir,
          host: flags.host,
          port: flags.smtpPort,
          tlsPort: flags.smtpTlsPort,
          tls: { cert: flags.cert, key: flags.key },
          strict: flags.strict,
          authAcceptAny: flags.authAcceptAny,
          allowPlaintextAuth: flags.allowPlaintext,
          maxSize: flags.maxSize,
          maxMessages: flags.maxMessages || undefined,
          ...smtpTuning(flags as unknown as Record<string, unknown>, 'smtp-'),
        });
        const pop3 = await createPop3Server({
          dataDir,
          host: flags.host,
          port: flags.pop3Port,
          tlsPort: flags.pop3TlsPort,
          tls,
          authAcceptAny: flags.authAcceptAny,
          allowPlaintext: flags.allowPlaintext,
          ...pop3Tuning(flags as unknown as Record<string, unknown>, 'pop3-'),
        }).catch(async (err) => {
          await smtp.close(0);
          throw err;
        });
        const log = serverLog(flags.maxLogBacklog);
        onShutdown(async () => {
          await Promise.all([smtp.close(), pop3.close()]);
          await log.report();
        });
        if (flags.trace) {
          printTrace(smtp, 'server', log.err);
          printTrace(pop3, 'server', log.err);
        }
        announceListening('smtp', smtp, { json: flags.json });
        if (smtp.tlsPort !== undefined)
          announceListening('smtp', { host: smtp.host, port: smtp.tlsPort }, { json: flags.json, tls: true });
        announceListening('pop3', pop3, { json: flags.json });
        if (pop3.tlsPort !== undefined)
          announceListening('pop3', { host: pop3.host, port: pop3.tlsPort }, { json: flags.json, tls: true });
        if (!flags.quiet) {
          logMessages(smtp, flags.json === true, log.log);
          logSessions(pop3, flags.json === true, log.log);
        }
      }),
    );
}
