/**
 * `netkit serve SERVICE…`: the classic inetd services (echo, discard, chargen, qotd, daytime, time)
 * over TCP and UDP. Ports default to `--port-base` + the standard port (7000 + 7 = 7007 for echo).
 * The servers are `startService()` in `sockets/classic.ts`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { usageError } from '../core/errors.js';
import { fileError } from '../core/fs-errors.js';
import {
  CLASSIC_PORTS,
  CLASSIC_SERVICES,
  type ClassicServiceHandle,
  isClassicService,
  parseQuotes,
  startServices,
} from '../sockets/classic.js';
import { maxLogBacklogOption, serverLog } from './stdout.js';
import {
  action,
  announceListening,
  durationOption,
  onShutdown,
  parsePort,
  parsePositive,
  printTrace,
} from './util.js';

interface ServeOptions {
  host: string;
  port?: number;
  portBase: number;
  quotes?: string;
  tcp: boolean;
  udp: boolean;
  maxConnections: number;
  maxPerIp: number;
  idleTimeout: number;
  udpRate: number;
  json?: boolean;
  trace?: boolean;
  maxLogBacklog: number;
}

export function register(program: Command): void {
  const table = CLASSIC_SERVICES.map((s) => `${s} ${CLASSIC_PORTS[s]}`).join(', ');
  program
    .command('serve')
    .description('classic services: echo discard chargen qotd daytime time')
    .argument('<service...>', `one or more of ${CLASSIC_SERVICES.join(', ')}, or "all"`)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port-base <n>', 'each service listens on base + its standard port', parsePort, 7000)
    .option(
      '-p, --port <port>',
      'exact port (TCP and UDP) of a single service; 0 = any free port for each',
      parsePort,
    )
    .option(
      '--quotes <file>',
      'qotd quotes, separated by blank lines or % lines (each under 512 bytes as sent, CRLFs included)',
    )
    .option('--no-tcp', 'serve over UDP only')
    .option('--no-udp', 'serve over TCP only')
    .option('--max-connections <n>', 'TCP connections at once, per service', parsePositive, 1000)
    .option('--max-per-ip <n>', 'TCP connections at once from one client IP, per service', parsePositive, 100)
    .addOption(
      durationOption(
        '--idle-timeout <duration>',
        'close idle TCP connections after this long (0 = never)',
        300_000,
      ),
    )
    .option(
      '--udp-rate <n>',
      'UDP replies per second to one client IP (more are dropped: limits reflection and loops)',
      parsePositive,
      64,
    )
    .option('--json', 'print one JSON line per listening socket (with "transport")')
    .option('--trace', 'print connections and data on stderr')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Standard ports: ${table}. Each service answers on TCP and UDP on the same port.
  echo (RFC 862) returns what it gets; discard (RFC 863) swallows it; chargen (RFC 864) sends the
  rotating 72-character pattern (TCP: until you close; UDP: a random length up to 512); qotd
  (RFC 865) gives the next quote; daytime (RFC 867) the date as text; time (RFC 868) 4 bytes,
  seconds since 1900.

Examples:
  $ netkit serve all                            six services on 7007, 7009, 7013, 7017, 7019, 7037
  $ netkit serve echo --port 9007               echo on TCP and UDP port 9007
  $ netkit serve qotd --quotes books.txt --port-base 8000
  $ netkit serve echo daytime --port 0 --json   (any free ports; the JSON lines tell which)
  $ nc 127.0.0.1 7013`,
    )
    .action(
      action(async (names: string[], opts: ServeOptions) => {
        const services = names.includes('all') ? [...CLASSIC_SERVICES] : names;
        for (const n of services) {
          if (!isClassicService(n)) {
            throw usageError(`unknown service "${n}" (choose from ${CLASSIC_SERVICES.join(', ')}, or all)`);
          }
        }
        if (new Set(services).size !== services.length) throw usageError('a service is named twice');
        if (opts.port !== undefined && opts.port !== 0 && services.length > 1) {
          throw usageError('--port sets the port of a single service (or 0 = any free port for each)');
        }
        if (!opts.tcp && !opts.udp) throw usageError('--no-tcp and --no-udp leave nothing to serve');
        let quotes: string[] | undefined;
        if (opts.quotes) {
          const text = await readFile(opts.quotes, 'utf8').catch((err) => {
            throw fileError(err, `cannot read --quotes ${opts.quotes}`);
          });
          quotes = parseQuotes(text);
        }
        const handles: ClassicServiceHandle[] = await startServices(services, {
          host: opts.host,
          port: opts.port,
          portBase: opts.portBase,
          tcp: opts.tcp,
          udp: opts.udp,
          quotes,
          maxConnections: opts.maxConnections,
          maxConnectionsPerIp: opts.maxPerIp,
          idleTimeoutMs: opts.idleTimeout,
          udpRepliesPerIp: opts.udpRate,
        });
        const log = serverLog(opts.maxLogBacklog);
        onShutdown(async () => {
          await Promise.all(handles.map((h) => h.close(2000)));
          await log.report();
        });
        for (const h of handles) {
          if (opts.trace) printTrace(h, 'server', log.err);
          if (h.tcp) announceListening(h.service, h.tcp, { json: opts.json, transport: 'tcp' });
          if (h.udp) announceListening(h.service, h.udp, { json: opts.json, transport: 'udp' });
        }
      }),
    );
}
