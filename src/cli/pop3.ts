import type { Command } from 'commander';
import { register as registerClient } from './pop3-client.js';
import { register as registerServe } from './pop3-serve.js';

/** `netkit pop3 serve|list|retr|dele|fetch`: server in pop3-serve.ts, client in pop3-client.ts. */
export function register(program: Command): void {
  const pop3 = program.command('pop3').description('POP3 server and client (list, retr, dele, fetch)');
  registerServe(pop3);
  registerClient(pop3);
}
