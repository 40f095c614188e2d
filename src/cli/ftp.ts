import type { Command } from 'commander';
import { register as registerClient } from './ftp-client.js';
import { register as registerServe } from './ftp-serve.js';

/** `netkit ftp serve|ls|get|put|rm|mkdir|mv|mirror`: server in ftp-serve.ts, client in ftp-client.ts. */
export function register(program: Command): void {
  const ftp = program.command('ftp').description('FTP server and client (ls get put rm mkdir mv mirror)');
  registerServe(ftp);
  registerClient(ftp);
}
