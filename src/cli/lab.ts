/**
 * `netkit lab`: every service on loopback with the dashboard. Flags override `NETKIT_*` variables,
 * which override `netkit.config.json`, which overrides the defaults of PRODUCT.md.
 */
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { NetkitError } from '../core/errors.js';
import { maxOf } from '../core/format.js';
import { fileError } from '../core/fs-errors.js';
import { parseJsonFile } from '../core/json-file.js';
import { formatHostPort } from '../core/server.js';
import { formatTrace } from '../core/trace.js';
import type { LabAccount } from '../lab/bootstrap.js';
import {
  configFromEnv,
  configFromFile,
  type LabConfigInput,
  type LabPortName,
  resolveLabConfig,
} from '../lab/config.js';
import { startLab } from '../lab/lab.js';
import { maxLogBacklogOption, serverLog } from './stdout.js';
import { action, bold, dim, onShutdown, parseInteger, parsePort, printJson } from './util.js';

const PORT_OPTIONS: Array<[string, LabPortName, string]> = [
  ['--ui-port <port>', 'ui', 'dashboard and REST API (8025)'],
  ['--smtp-port <port>', 'smtp', 'SMTP with STARTTLS (2525)'],
  ['--smtp-tls-port <port>', 'smtpTls', 'SMTP implicit TLS (4650)'],
  ['--pop3-port <port>', 'pop3', 'POP3 with STLS (1110)'],
  ['--pop3-tls-port <port>', 'pop3Tls', 'POP3 implicit TLS (1995)'],
  ['--ftp-port <port>', 'ftp', 'FTP with AUTH TLS (2121)'],
  ['--ftp-tls-port <port>', 'ftpTls', 'FTP implicit TLS (9900)'],
  ['--chat-port <port>', 'chat', 'chat (7070)'],
  ['--chat-tls-port <port>', 'chatTls', 'chat over TLS (7443)'],
  ['--http-port <port>', 'http', 'HTTP file server (8080)'],
  ['--https-port <port>', 'https', 'the same files over HTTPS (8443)'],
  ['--classic-base <port>', 'classicBase', 'classic services at BASE + standard port (7000)'],
];

async function readConfigFile(file: string | undefined): Promise<LabConfigInput> {
  const name = file ?? 'netkit.config.json';
  let text: string;
  try {
    text = await readFile(name, 'utf8');
  } catch (err) {
    if (!file && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    // the file the user named is not there to read: what they typed (exit 2)
    const reason = fileError(err, `cannot read ${file ? '--config ' : ''}${name}`);
    throw new NetkitError('NETKIT_USAGE', reason.message, { cause: err });
  }
  return configFromFile(parseJsonFile(text, name, 'NETKIT_USAGE'), name);
}

/** A demo account on the start-up screen: its password, or why the lab no longer knows it. */
function shownAccount(a: LabAccount): string {
  if (a.removed) return `${a.user} (removed)`;
  return `${bold(a.user)} / ${a.password ?? '(changed since the lab set it)'}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('lab')
    .description('start every service on loopback with the live web dashboard')
    .option('--host <host>', 'address every service binds (default 127.0.0.1)')
    .option('--data <dir>', 'data directory (default ./netkit-data)')
    .option('--config <file>', 'config file (default ./netkit.config.json when present)')
    .option('--port-offset <n>', 'add N to every port (run two labs side by side)', parseInteger)
    .option('--auth-accept-any', 'mail: accept any user name and password (lab convenience)')
    // the lab's first name for it; `smtp/pop3/mail serve` say --auth-accept-any
    .addOption(new Option('--accept-any-auth').hideHelp())
    .option('--ui-auth <user:pass>', 'protect the dashboard with HTTP basic auth (required off loopback)')
    .option('--max-messages <n>', 'keep at most N messages per mailbox (default 5000)', parseInteger)
    .option('--passive-ports <from-to>', 'FTP passive port range')
    .option('--json', 'print one JSON line per listening socket, then {"service":"lab","ready":true}')
    .option('--trace', 'print every protocol conversation (C:/S:) on stderr')
    .addOption(maxLogBacklogOption());
  for (const [flag, , desc] of PORT_OPTIONS) cmd.option(flag, desc, parsePort);
  cmd.addHelpText(
    'after',
    `
Every port can also be set in netkit.config.json ({"ports": {"smtp": 2525, "https": 8443, …}}) or with
NETKIT_SMTP_PORT, NETKIT_POP3_TLS_PORT, NETKIT_FTP_TLS_PORT, NETKIT_CHAT_TLS_PORT, NETKIT_HTTPS_PORT,
NETKIT_UI_PORT, … and NETKIT_DATA. Every TLS port uses the development certificate in DATA/tls/dev-cert.pem.
Each service's limits go in the file's "services" object, e.g.
{"services": {"smtp": {"maxSize": 1048576, "maxRecipients": 5}, "ftp": {"downloadRate": 1048576}}}.

Examples:
  $ netkit lab                                 everything on the default ports, data in ./netkit-data
  $ netkit lab --port-offset 10000             SMTP on 12525, dashboard on 18025, …
  $ netkit lab --data /tmp/lab --auth-accept-any
  $ netkit lab --json | jq .                   machine-readable listening sockets`,
  );
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const flags: LabConfigInput = { ports: {} };
      for (const [, key] of PORT_OPTIONS) {
        const optName = key === 'ui' ? 'uiPort' : key === 'classicBase' ? 'classicBase' : `${key}Port`;
        if (opts[optName] !== undefined) flags.ports![key] = opts[optName] as number;
      }
      if (opts.host) flags.host = opts.host as string;
      if (opts.data) flags.dataDir = opts.data as string;
      if (opts.portOffset !== undefined) flags.portOffset = opts.portOffset as number;
      if (opts.authAcceptAny || opts.acceptAnyAuth) flags.acceptAnyAuth = true;
      if (opts.uiAuth) flags.uiAuth = opts.uiAuth as string;
      if (opts.maxMessages !== undefined) flags.maxMessages = opts.maxMessages as number;
      if (opts.passivePorts) flags.passivePorts = opts.passivePorts as string;
      const cfg = resolveLabConfig(
        await readConfigFile(opts.config as string | undefined),
        configFromEnv(process.env),
        flags,
      );

      const lab = await startLab(cfg);
      const log = serverLog(opts.maxLogBacklog as number);
      onShutdown(async () => {
        if (!opts.json) process.stderr.write('stopping: letting transfers in flight finish…\n');
        await lab.close(10_000);
        await log.report();
      });
      // the wire log gathers every service's trace events and passes them on as 'event'
      if (opts.trace) lab.context.wire.on('event', (ev) => log.err.line(formatTrace(ev, 'server')));
      const services = lab.services();
      if (opts.json) {
        for (const s of services)
          printJson({ service: s.name, host: s.host, port: s.port, tls: s.tls, transport: s.transport });
        printJson({
          service: 'lab',
          ready: true,
          url: lab.dashboard.url,
          dataDir: lab.dataDir,
          credentials: lab.credentials,
        });
      } else {
        const out = process.stdout;
        out.write(`${bold('netkit lab')} — data in ${lab.dataDir}\n\n`);
        const rows = services.map((s) => [
          `${s.name}${s.tls ? ' (tls)' : ''}`,
          `${s.transport} ${formatHostPort(s.host, s.port)}`,
          s.hint ?? '',
        ]);
        const w0 = maxOf(rows.map((r) => r[0]!.length));
        const w1 = maxOf(rows.map((r) => r[1]!.length));
        for (const [a, b, c] of rows) out.write(`  ${a!.padEnd(w0)}  ${b!.padEnd(w1)}  ${dim(c!)}\n`);
        const c = lab.credentials;
        out.write(
          `\nAccounts: real ${shownAccount(c.real)}   guest ${shownAccount(c.guest)}   anonymous FTP: anonymous / any e-mail\n`,
        );
        if (cfg.acceptAnyAuth) out.write('Mail accepts any user name and password (--auth-accept-any).\n');
        out.write(`Dashboard: ${bold(lab.dashboard.url)}   Stop with Ctrl-C.\n`);
      }
    }),
  );
}
