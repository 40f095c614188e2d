/**
 * `netkit ftp shell [URL]`: the classic interactive FTP client — what BSD `ftp`, `lftp` and `sftp`
 * users type — over the same FtpClient, flags and output as `netkit ftp get|put|ls|mirror`.
 *
 * This file only registers the command and its help; the terminal is ftp-shell-terminal.ts and the
 * commands are ftp-shell-table.ts and ftp-shell-session.ts, loaded when the shell runs.
 */
import type { Command } from 'commander';
import {
  addDownloadOptions,
  addListingOptions,
  addLoginOptions,
  addTransferOptions,
  addTreeOptions,
} from './ftp-client.js';
import type { ShellOptions } from './ftp-shell-session.js';
import { commandTable } from './ftp-shell-table.js';
import { action } from './util.js';

export function register(group: Command): void {
  addTreeOptions(
    addListingOptions(
      addDownloadOptions(
        addTransferOptions(
          addLoginOptions(
            group
              .command('shell')
              .description('interactive FTP client (ftp> prompt, TAB completion); reads a script from stdin')
              .argument(
                '[url]',
                'ftp://[user[:pass]@]host[:port]/dir/, or HOST[:PORT]; else connect with "open"',
              ),
          ),
        ),
      ),
    ),
  )
    .addHelpText(
      'after',
      `
Commands (help CMD inside the shell explains one; unambiguous prefixes work, e.g. "bin"):
${commandTable('  ')}

Remote paths are relative to the remote directory (cd), local ones to the local directory (lcd).
Words are split as sh does: 'single' and "double" quotes, backslash escapes. Wildcards (* ? [a-z])
in mget, mput, mdelete, ls and lls are matched by netkit against one directory; quote them to mean
the name itself. Ctrl-C cancels a running transfer (get keeps FILE.part: reget resumes it), Ctrl-D
or bye leaves.

Without a terminal on stdin, commands are read line by line with no prompt and no echo (lines
starting with # are comments); every line runs even after a failure, and the exit status is 1 if
any command failed, 0 otherwise (like sftp -b). Transfer summaries and errors go to stderr,
listings and other results to stdout.

Examples:
  $ netkit ftp shell ftp://alice@127.0.0.1:2121/
  $ netkit ftp shell 127.0.0.1:2121 --tls --insecure
  $ netkit ftp shell ftp://127.0.0.1:2121/pub/ --trace
  $ printf 'cd docs\\nmget *.txt\\nput report.pdf\\nbye\\n' | NETKIT_PASSWORD=s3cret netkit ftp shell ftp://alice@127.0.0.1:2121/
  $ netkit ftp shell ftp://alice:s3cret@127.0.0.1:2121/ < session.ftp || echo "a command failed"`,
    )
    .action(
      action(async (urlText: string | undefined, opts: ShellOptions) => {
        const { runShell } = await import('./ftp-shell-terminal.js');
        process.exitCode = await runShell(urlText, opts);
      }),
    );
}
