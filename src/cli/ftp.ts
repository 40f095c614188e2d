import type { Command } from 'commander';
import { register as registerServe } from './ftp-serve.js';

/**
 * `netkit ftp serve|ls|get|put|rm|mkdir|mv|mirror|shell`: server in ftp-serve.ts, one-shot client
 * commands in ftp-client.ts, the interactive client in ftp-shell.ts.
 */
export async function register(program: Command): Promise<void> {
  const ftp = program
    .command('ftp')
    .description('FTP server and client (ls get put rm mkdir mv mirror shell)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit ftp serve --anonymous-upload                 127.0.0.1:2121, tree in ./netkit-data/ftp
  $ netkit ftp ls ftp://127.0.0.1:2121/pub/
  $ netkit ftp get ftp://bob@127.0.0.1:2121/report.pdf
  $ netkit ftp put notes.txt ftp://bob@127.0.0.1:2121/
  $ netkit ftp mirror ftp://127.0.0.1:2121/pub/ ./pub-copy
  $ netkit ftp shell ftp://bob@127.0.0.1:2121/              ftp> prompt: ls, cd, get, mput *.txt …`,
    );
  registerServe(ftp);
  // `ftp serve` never needs the client (basic-ftp and friends): leave it out of the server's memory
  const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  if (args[1] !== 'serve') {
    (await import('./ftp-client.js')).register(ftp);
    (await import('./ftp-shell.js')).register(ftp);
  }
}
