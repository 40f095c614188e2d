import type { Command } from 'commander';
import { register as registerServe } from './ftp-serve.js';

/** `netkit ftp serve|ls|get|put|rm|mkdir|mv|mirror`: server in ftp-serve.ts, client in ftp-client.ts. */
export async function register(program: Command): Promise<void> {
  const ftp = program.command('ftp').description('FTP server and client (ls get put rm mkdir mv mirror)');
  registerServe(ftp);
  // `ftp serve` never needs the client (basic-ftp and friends): leave it out of the server's memory
  const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  if (args[1] !== 'serve') (await import('./ftp-client.js')).register(ftp);
}
