/**
 * `netkit port NAME|NUMBER[/tcp|udp]…`: service name ↔ port number from the services database
 * (`sockets/services.ts`), plus the IANA range of the port.
 */
import type { Command } from 'commander';
import { NetkitError, usageError } from '../core/errors.js';
import { loadServices, lookupPort, type PortInfo, parsePortQuery } from '../sockets/services.js';
import { action, bold, checkReadable, printJson } from './util.js';

/** The human form of one answer. */
export function formatPortInfo(info: PortInfo): string {
  const rows: Array<[string, string]> = [['port', String(info.port)]];
  if (info.entries.length === 0) {
    rows.push([info.protocol ?? 'service', `(none registered in ${info.source})`]);
  }
  for (const e of info.entries) {
    rows.push([e.protocol, e.aliases.length ? `${e.name} (aliases: ${e.aliases.join(', ')})` : e.name]);
  }
  const r = info.range;
  rows.push(['range', `${r.name} (${r.from}-${r.to}): ${r.description}`]);
  return rows.map(([k, v]) => `${bold(k.padEnd(8))} ${v}`).join('\n');
}

export function register(program: Command): void {
  program
    .command('port')
    .description('service name <-> port number, and port ranges')
    .argument('<query...>', 'NAME or NUMBER, optionally /tcp or /udp (several allowed)')
    .option(
      '--services <file>',
      'services database to read instead of /etc/services (an error if it cannot be read; the built-in table stands in only for a missing /etc/services)',
    )
    .option('--json', 'one JSON object per query')
    .addHelpText(
      'after',
      `
Looks names and numbers up like getservbyname(3)/getservbyport(3): the first entry wins and
aliases count. Ranges (RFC 6335): well-known 0-1023, registered 1024-49151, dynamic 49152-65535.

Examples:
  $ netkit port http
  $ netkit port 53/udp
  $ netkit port smtp pop3 ftp 8080
  $ netkit port 49200 --json`,
    )
    .action(
      action(async (queries: string[], opts: { services?: string; json?: boolean }) => {
        for (const q of queries) {
          try {
            parsePortQuery(q);
          } catch (err) {
            throw err instanceof NetkitError ? usageError(err.message) : err;
          }
        }
        // a file the user names must be read; only the default /etc/services may be missing
        await checkReadable('--services', opts.services);
        const db = await loadServices(opts.services);
        const blocks: string[] = [];
        let failure: unknown;
        for (const q of queries) {
          let info: PortInfo;
          try {
            info = lookupPort(db, q);
          } catch (err) {
            // report every unknown name, answer the others, exit 1 at the end
            if (queries.length === 1) throw err;
            process.stderr.write(`netkit: ${err instanceof Error ? err.message : String(err)}\n`);
            failure = err;
            continue;
          }
          if (opts.json) printJson(info);
          else blocks.push(formatPortInfo(info));
        }
        if (blocks.length) process.stdout.write(`${blocks.join('\n\n')}\n`);
        if (failure) process.exitCode = 1;
      }),
    );
}
