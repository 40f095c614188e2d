import type { Command } from 'commander';

/** `netkit tcp`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('tcp').description('not available yet');
}
