import type { Command } from 'commander';

/** `netkit chat`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('chat').description('not available yet');
}
