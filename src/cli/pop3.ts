import type { Command } from 'commander';
import { register as registerClient } from './pop3-client.js';
import { register as registerServe } from './pop3-serve.js';

/** `netkit pop3 serve|list|retr|dele|fetch`: server in pop3-serve.ts, client in pop3-client.ts. */
export function register(program: Command): void {
  const pop3 = program
    .command('pop3')
    .description('POP3 server and client (list, retr, dele, fetch)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit pop3 serve --port 1110 --tls-port 1995           serve the Maildirs in ./netkit-data
  $ netkit pop3 list --user bob --password secret --headers
  $ netkit pop3 retr 1 --user bob --password secret | netkit mail show -
  $ netkit pop3 fetch --user bob --out ./inbox --new-only --delete`,
    );
  registerServe(pop3);
  registerClient(pop3);
}
