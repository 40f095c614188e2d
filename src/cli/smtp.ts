import type { Command } from 'commander';

/** `netkit smtp`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('smtp').description('not available yet');
}
