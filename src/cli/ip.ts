import type { Command } from 'commander';

/** `netkit ip`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('ip').description('not available yet');
}
