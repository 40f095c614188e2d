import type { Command } from 'commander';
import { register as registerSend } from './mail-send.js';
import { register as registerServe } from './mail-serve.js';

/** `netkit mail send|show|serve`: the subcommands live in mail-send.ts and mail-serve.ts. */
export function register(program: Command): void {
  const mail = program
    .command('mail')
    .description('send mail with full MIME, show a message, serve SMTP+POP3');
  registerSend(mail);
  registerServe(mail);
}
