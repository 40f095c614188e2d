import type { Command } from 'commander';

/** `netkit user`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('user').description('not available yet');
}
