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

/**
 * Verbs of the FTP RFCs that this server recognises but does not implement: they get 502, every
 * other unknown verb 500 (RFC 959 §4.2). REIN and SMNT (RFC 959), LPRT and LPSV (RFC 1639), the
 * RFC 2228 security verbs beyond AUTH/PBSZ/PROT, LANG (RFC 2640) and HOST (RFC 7151).
 */
export const NOT_IMPLEMENTED: ReadonlySet<string> = new Set([
  'REIN',
  'SMNT',
  'LPRT',
  'LPSV',
  'ADAT',
  'CCC',
  'CONF',
  'ENC',
  'MIC',
  'LANG',
  'HOST',
]);
