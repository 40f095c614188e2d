import type { Command } from 'commander';

/** `netkit host`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('host').description('not available yet');
}
