import type { Command } from 'commander';

/** `netkit port`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('port').description('not available yet');
}
