import type { Command } from 'commander';

/** `netkit udp`: placeholder until the command group lands. */
export function register(program: Command): void {
  program.command('udp').description('not available yet');
}
