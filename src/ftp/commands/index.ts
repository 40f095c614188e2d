/**
 * The command table: verb → handler, merged from one module per concern. The session dispatches
 * through this map only, so adding a command means adding one entry in one module.
 */
import type { CommandSpec } from '../session.js';
import { accessCommands } from './access.js';
import { dataCommands } from './data.js';
import { fileCommands } from './files.js';
import { infoCommands } from './info.js';
import { transferCommands } from './transfers.js';

export const commandTable: Readonly<Record<string, CommandSpec>> = {
  ...accessCommands,
  ...infoCommands,
  ...dataCommands,
  ...fileCommands,
  ...transferCommands,
};
