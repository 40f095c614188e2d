import type { Command } from 'commander';
import { register as registerSend } from './mail-send.js';
import { register as registerServe } from './mail-serve.js';

/** `netkit mail send|show|serve`: the subcommands live in mail-send.ts and mail-serve.ts. */
export function register(program: Command): void {
  const mail = program
    .command('mail')
    .description('send mail with full MIME, show a message, serve SMTP+POP3')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit mail serve                                   SMTP 2525 + POP3 1110 on ./netkit-data
  $ netkit mail send --to bob@lab --subject hi --text hello --attach report.pdf
  $ netkit mail send --to bob@lab --subject hi --text hello --dry-run > message.eml
  $ netkit mail show message.eml --save-attachments ./attachments`,
    );
  registerSend(mail);
  registerServe(mail);
}
