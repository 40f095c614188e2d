#!/usr/bin/env node
/**
 * The `netkit` command. Start-up must stay fast (`netkit --version` ≤ 150 ms), so only the command
 * group named on the command line is imported; `--help` lists the groups from the table below.
 */
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { VERSION } from '../version.js';

interface Group {
  description: string;
  load: () => Promise<{ register(program: Command): void | Promise<void> }>;
}

/** One entry per command group; each module registers its own subcommands. */
const GROUPS: Record<string, Group> = {
  lab: {
    description: 'start every service on loopback with the live dashboard',
    load: () => import('./lab.js'),
  },
  tcp: { description: 'netcat-style TCP connect, listen and port scan', load: () => import('./tcp.js') },
  udp: { description: 'send and receive UDP datagrams', load: () => import('./udp.js') },
  serve: {
    description: 'classic services: echo discard chargen qotd daytime time',
    load: () => import('./serve.js'),
  },
  chat: { description: 'multi-client TCP line chat server and client', load: () => import('./chat.js') },
  multicast: { description: 'UDP multicast chat, send and listen', load: () => import('./multicast.js') },
  host: {
    description: 'hostname, interface addresses, DNS and reverse lookups',
    load: () => import('./host.js'),
  },
  ip: {
    description: 'IPv4/IPv6 address and prefix calculator (ipcalc-grade)',
    load: () => import('./ip.js'),
  },
  port: { description: 'service name <-> port number, and port ranges', load: () => import('./port.js') },
  smtp: { description: 'SMTP server with Maildir delivery', load: () => import('./smtp.js') },
  pop3: { description: 'POP3 server and client (list, retr, dele, fetch)', load: () => import('./pop3.js') },
  mail: {
    description: 'send mail with full MIME, show a message, serve SMTP+POP3',
    load: () => import('./mail.js'),
  },
  user: { description: 'manage accounts (shared by mail and FTP)', load: () => import('./user.js') },
  ftp: {
    description: 'FTP server and client (ls get put rm mkdir mv mirror)',
    load: () => import('./ftp.js'),
  },
  url: { description: "URL functions with Python's urllib.parse semantics", load: () => import('./url.js') },
  http: {
    description: 'HTTP requests with cookie jars, and a static file server',
    load: () => import('./http.js'),
  },
  download: { description: 'multi-connection resumable downloader', load: () => import('./download.js') },
};

export async function main(argv: string[]): Promise<void> {
  // fast path: `netkit --version` needs none of the command machinery
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  // require() of commander's CommonJS build is measurably faster than import() at start-up
  const { Command, CommanderError } = createRequire(import.meta.url)(
    'commander',
  ) as typeof import('commander');
  const { exitWithError } = await import('./util.js');
  // A reader that goes away (`netkit ftp ls URL | head -1`) is not our failure: stop quietly
  // instead of dying on an unhandled EPIPE with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    exitWithError(err, argv.includes('--debug'));
  });
  const program = new Command('netkit')
    .description('netkit — the network-programming toolkit: TCP, UDP, chat, FTP, SMTP, POP3, HTTP, URLs')
    .version(VERSION, '-V, --version')
    .option('--debug', 'print stack traces on errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'netkit: ')) })
    .addHelpText(
      'after',
      `
Examples:
  $ netkit lab                          start every service and the dashboard
  $ netkit ip 192.168.1.10/24           ipcalc-style address calculator
  $ netkit tcp connect example.org 80   netcat-style client
  $ netkit mail send --to bob@lab --subject hi --text hello
  $ netkit COMMAND --help               help for one command`,
    );

  // `netkit help GROUP [SUB]` is `netkit GROUP [SUB] --help` (the group must be loaded to show it)
  if (argv[0] === 'help' && argv[1] !== undefined && !argv[1].startsWith('-')) {
    if (!GROUPS[argv[1]]) {
      process.stderr.write(`netkit: unknown command '${argv[1]}' (see netkit --help)\n`);
      process.exit(2);
    }
    argv = [...argv.slice(1), '--help'];
  }
  const name = argv.find((a) => !a.startsWith('-'));
  const group = name ? GROUPS[name] : undefined;
  if (group) {
    const mod = await group.load();
    await mod.register(program);
  } else {
    for (const [n, g] of Object.entries(GROUPS)) program.command(n).description(g.description);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
        process.exit(0);
      }
      process.exit(err.code === 'commander.executeSubCommandAsync' ? 1 : 2);
    }
    exitWithError(err, argv.includes('--debug'));
  }
}

main(process.argv.slice(2)).catch(async (err) => {
  const { exitWithError } = await import('./util.js');
  exitWithError(err, process.argv.includes('--debug'));
});
