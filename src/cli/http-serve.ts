import type { Command } from 'commander';
import { DEFAULT_HTTP_IDLE_TIMEOUT_MS } from '../http/file-server-limits.js';
import {
  action,
  announceListening,
  collect,
  durationOption,
  onShutdown,
  parseBytes,
  parsePort,
  parsePositive,
  printTrace,
} from './util.js';

interface ServeOptions {
  host: string;
  port: number;
  rateLimit?: number;
  range: boolean;
  listings: boolean;
  json?: boolean;
  trace?: boolean;
  maxClients?: number;
  maxPerIp?: number;
  idleTimeout: number;
  allowedHost: string[];
}

/** `netkit http serve DIR`: the static file server (Range, If-Range, ETag, listings, throttling). */
export function register(group: Command): void {
  group
    .command('serve')
    .description('serve a directory over HTTP with Range, If-Range, ETag/304 and listings')
    .argument('<dir>', 'directory to serve (nothing outside it is reachable)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', parsePort, 8080)
    .option(
      '--rate-limit <bytes>',
      'bytes per second per connection, e.g. 500k, 20M (0 = unlimited)',
      parseBytes,
    )
    .option('--no-range', 'behave like a server without Range support')
    .option('--no-listings', 'answer 403 for directories without index.html')
    .option('--max-clients <n>', 'simultaneous connections (default 1000)', parsePositive)
    .option('--max-per-ip <n>', 'simultaneous connections per client address (default 100)', parsePositive)
    .addOption(
      durationOption(
        '--idle-timeout <duration>',
        'close a connection on which nothing moves this long, e.g. a client that stopped reading (0 = never)',
        DEFAULT_HTTP_IDLE_TIMEOUT_MS,
      ),
    )
    .option(
      '--allowed-host <name>',
      "on loopback, also answer requests for this host name (repeatable; '*' = any); others get 403 (DNS rebinding)",
      collect,
      [],
    )
    .option('--json', 'print the listening socket as JSON')
    .option('--trace', 'print every request and response line to stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit http serve ./public                       http://127.0.0.1:8080/
  $ netkit http serve . --port 0 --json              pick a free port, print it as JSON
  $ netkit http serve ./iso --rate-limit 2M          throttle each connection to 2 MiB/s
  $ netkit http serve ./files --no-range --trace     a server without Range support, traced
  $ netkit http serve ./site --allowed-host app.test also answer http://app.test:8080/ (in /etc/hosts)
  $ curl -r 100-199 http://127.0.0.1:8080/big.bin    fetch bytes 100..199 (206)`,
    )
    .action(
      action(async (dir: string, opts: ServeOptions) => {
        // loaded here, not at start-up: `netkit http get` shares this command group
        const { createFileServer } = await import('../http/file-server.js');
        const server = await createFileServer({
          root: dir,
          host: opts.host,
          port: opts.port,
          rateLimit: opts.rateLimit,
          noRange: !opts.range,
          listings: opts.listings,
          maxConnections: opts.maxClients,
          maxConnectionsPerIp: opts.maxPerIp,
          idleTimeoutMs: opts.idleTimeout,
          allowedHosts: opts.allowedHost,
        });
        if (opts.trace) printTrace(server, 'server');
        announceListening('http', server, { json: opts.json });
        onShutdown(() => server.close());
      }),
    );
}
