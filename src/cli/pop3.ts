import type { Command } from 'commander';

/** `netkit pop3`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('pop3').description('not available yet');
}
