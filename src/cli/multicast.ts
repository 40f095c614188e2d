import type { Command } from 'commander';

/** `netkit multicast`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('multicast').description('not available yet');
}
