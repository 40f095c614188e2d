import type { Command } from 'commander';

/** `netkit http`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('http').description('not available yet');
}
