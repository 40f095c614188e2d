import type { Command } from 'commander';

/** `netkit serve`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('serve').description('not available yet');
}
