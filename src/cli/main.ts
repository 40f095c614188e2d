#!/usr/bin/env node
/**
 * The `netkit` command. Start-up must stay fast (`netkit --version` ≤ 150 ms), so only the command
 * group named on the command line is imported; `--help` lists the groups from the table in `groups.ts`.
 */
import { createRequire } from 'node:module';
import { VERSION } from '../version.js';
import { GROUPS } from './groups.js';
import { fitHelp } from './help-fit.js';

/** commander's help width: the terminal's, else 80 columns. */
function helpWidth(stream: NodeJS.WriteStream): number {
  return (stream.isTTY && stream.columns) || 80;
}

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
  const { stdoutReaderEndsCommand } = await import('./stdout.js');
  // A reader that goes away (`netkit ftp ls URL | head -1`) is not our failure: stop quietly
  // instead of dying on an unhandled EPIPE with a stack trace — or, for a server, go on serving
  // with its event log no longer printed (stdout.ts).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      if (stdoutReaderEndsCommand()) process.exit(0);
      return;
    }
    exitWithError(err, argv.includes('--debug'));
  });
  const program = new Command('netkit')
    .description('netkit — the network-programming toolkit: TCP, UDP, chat, FTP, SMTP, POP3, HTTP, URLs')
    .version(VERSION, '-V, --version')
    .option('--debug', 'print stack traces on errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // an error stays one line, however long (written past writeErr, which fits help); commander's
      // suggestion for a typo joins it: `netkit: unknown option '--jsn' (did you mean --json?)`
      outputError: (str) =>
        process.stderr.write(
          str.replace(/^error: /, 'netkit: ').replace(/\n\(Did you mean (.*)\)\n$/, ' (did you mean $1)\n'),
        ),
      // help fitted to the width commander wraps its own part to
      writeOut: (str) => process.stdout.write(fitHelp(str, helpWidth(process.stdout))),
      writeErr: (str) => process.stderr.write(fitHelp(str, helpWidth(process.stderr))),
    })
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
