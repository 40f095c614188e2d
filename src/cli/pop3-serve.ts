import type { Command } from 'commander';

/** Placeholder until this part of the command group lands. */
export function register(_group: Command): void {}
