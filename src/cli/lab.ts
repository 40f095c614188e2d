import type { Command } from 'commander';

/** `netkit lab`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('lab').description('not available yet');
}
