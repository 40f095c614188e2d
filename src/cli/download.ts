import type { Command } from 'commander';

/** `netkit download`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('download').description('not available yet');
}
