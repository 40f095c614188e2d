import type { Command } from 'commander';

/** `netkit ftp`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('ftp').description('not available yet');
}
