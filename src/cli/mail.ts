import type { Command } from 'commander';

/** `netkit mail`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('mail').description('not available yet');
}
