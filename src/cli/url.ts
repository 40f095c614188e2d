import type { Command } from 'commander';

/** `netkit url`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('url').description('not available yet');
}
