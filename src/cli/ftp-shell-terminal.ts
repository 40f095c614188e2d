/**
 * The terminal side of `netkit ftp shell` (ftp-shell.ts registers the command; this module is
 * loaded only when the shell runs, so `ftp ls|get|put` do not pay for readline and the session).
 *
 * On a terminal: the `ftp> ` prompt with node:readline (history, TAB completion of commands and of
 * remote and local names), Ctrl-D leaves, Ctrl-C clears the line at the prompt and cancels a
 * running command. Why a fresh readline per prompt: while a command runs the terminal goes back to
 * cooked mode, so Ctrl-C arrives as SIGINT (one handler cancels the transfer) and a password
 * prompt or a `prompt` question can read the keyboard without a readline interface still
 * listening to it.
 *
 * Without a terminal on stdin the shell reads commands line by line, prints no prompt and echoes
 * nothing, runs every line even after a failure, and exits 1 if any command failed (as
 * `sftp -b` reports it), so a script can be `netkit ftp shell ftp://host < cmds.txt`.
 */
import readline from 'node:readline';
import { parseFtpUrl } from '../ftp/ftp-url.js';
import { FtpShell, hostToUrl, type ShellOptions } from './ftp-shell-session.js';

const PROMPT = 'ftp> ';

/** Read one command line on the terminal; undefined on Ctrl-D (end of input). */
function readCommand(
  shell: FtpShell,
  history: string[],
  output: NodeJS.WriteStream,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({
      input: process.stdin,
      output,
      terminal: true,
      history: [...history],
      historySize: 1000,
      removeHistoryDuplicates: true,
      completer: (line: string, cb: (err: null, result: [string[], string]) => void) => {
        shell.complete(line).then(
          (r) => cb(null, r),
          () => cb(null, [[], '']),
        );
      },
    });
    let done = false;
    const finish = (line: string | undefined) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(line);
    };
    rl.on('history', (h: string[]) => history.splice(0, history.length, ...h));
    rl.on('line', (line) => finish(line));
    // Ctrl-C at the prompt drops what was typed, as a shell does
    rl.on('SIGINT', () => {
      output.write('^C\n');
      finish('');
    });
    rl.on('close', () => {
      if (!done) output.write('\n');
      finish(undefined);
    });
    rl.setPrompt(PROMPT);
    rl.prompt();
  });
}

async function interactive(shell: FtpShell): Promise<number> {
  const output = process.stdout.isTTY ? process.stdout : process.stderr;
  const history: string[] = [];
  const onSigint = () => shell.interrupt();
  for (;;) {
    const line = await readCommand(shell, history, output);
    if (line === undefined) break;
    process.on('SIGINT', onSigint);
    try {
      if ((await shell.execute(line)) === 'exit') break;
    } finally {
      process.off('SIGINT', onSigint);
    }
  }
  await shell.close();
  return 0;
}

async function scripted(shell: FtpShell): Promise<number> {
  const rl = readline.createInterface({
    input: process.stdin,
    terminal: false,
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of rl) if ((await shell.execute(line)) === 'exit') break;
  rl.close();
  await shell.close();
  return shell.failures > 0 ? 1 : 0;
}

/** Run the shell: connect to `urlText` when given, then read commands until bye or end of input. */
export async function runShell(urlText: string | undefined, opts: ShellOptions): Promise<number> {
  // a malformed URL is a usage error (exit 2) before anything starts
  const url = urlText === undefined ? undefined : hostToUrl(urlText);
  if (url !== undefined) parseFtpUrl(url);
  const tty = process.stdin.isTTY === true;
  const shell = new FtpShell(opts, { interactive: tty });
  if (url !== undefined) await shell.start(url);
  return tty ? interactive(shell) : scripted(shell);
}
