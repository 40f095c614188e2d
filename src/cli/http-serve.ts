import type { Command } from 'commander';
import {
  DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_PIPELINED,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
} from '../http/file-server-limits.js';
import { serveTlsMaterial } from './serve-tls.js';
import { maxLogBacklogOption, serverLog } from './stdout.js';
import { checkNamable } from './unnamable-path.js';
import {
  action,
  announceListening,
  collect,
  durationOption,
  onShutdown,
  parseBytes,
  parsePort,
  parsePositive,
  parsePositiveBytes,
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
  maxPipelined?: number;
  maxBody?: number;
  idleTimeout: number;
  headersTimeout: number;
  allowedHost: string[];
  tls?: boolean;
  tlsPort?: number;
  cert?: string;
  key?: string;
  data?: string;
  handshakeTimeout: number;
  maxLogBacklog: number;
}

/** `netkit http serve DIR`: the static file server (Range, If-Range, ETag, listings, throttling). */
export function register(group: Command): void {
  group
    .command('serve')
    .description('serve a directory over HTTP and HTTPS with Range, If-Range, ETag/304 and listings')
    .argument('<dir>', 'directory to serve (nothing outside it is reachable)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', parsePort, 8080)
    .option('--tls-port <port>', 'also serve HTTPS on this port (0 = any free port)', parsePort)
    .option('--tls', 'the main --port serves HTTPS only')
    .option('--cert <file>', 'TLS certificate (PEM; default: a self-signed dev certificate in DATA/tls)')
    .option('--key <file>', 'TLS private key (PEM), with --cert')
    .option('--data <dir>', 'data directory holding the dev certificate in DIR/tls (default ./netkit-data)')
    .addOption(
      durationOption(
        '--handshake-timeout <duration>',
        'drop an HTTPS client that has not finished its TLS handshake by then (0 = --idle-timeout)',
        DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
      ),
    )
    .option(
      '--rate-limit <bytes>',
      'bytes per second per connection, e.g. 500k, 20M (0 = unlimited)',
      parseBytes,
    )
    .option('--no-range', 'behave like a server without Range support')
    .option('--no-listings', 'answer 403 for directories without index.html')
    .option(
      '--max-clients <n>',
      'simultaneous connections, both ports together (default 1000)',
      parsePositive,
    )
    .option(
      '--max-pipelined <n>',
      `pipelined requests that may wait on one connection; more closes it (default ${DEFAULT_MAX_PIPELINED})`,
      parsePositive,
    )
    .option(
      '--max-body <size>',
      'longest request body read (and thrown away); a longer Content-Length gets 413 and the connection closes (default 1M)',
      parsePositiveBytes,
    )
    .option(
      '--max-per-ip <n>',
      'simultaneous connections per client address, both ports together (default 100)',
      parsePositive,
    )
    .addOption(
      durationOption(
        '--idle-timeout <duration>',
        'close a connection on which nothing moves this long, e.g. a client that stopped reading (0 = never)',
        DEFAULT_HTTP_IDLE_TIMEOUT_MS,
      ),
    )
    .addOption(
      durationOption(
        '--headers-timeout <duration>',
        "a request's line and headers must arrive within this time of its first byte; slower ones get 408 (0 = no limit)",
        DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
      ),
    )
    .option(
      '--allowed-host <name>',
      "on loopback, also answer requests for this host name (repeatable; '*' = any); others get 403 (DNS rebinding)",
      collect,
      [],
    )
    .option('--json', 'print the listening sockets as JSON lines')
    .option('--trace', 'print every request and response line to stderr')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Examples:
  $ netkit http serve ./public                       http://127.0.0.1:8080/
  $ netkit http serve . --port 0 --json              pick a free port, print it as JSON
  $ netkit http serve ./iso --rate-limit 2M          throttle each connection to 2 MiB/s
  $ netkit http serve ./files --no-range --trace     a server without Range support, traced
  $ netkit http serve ./site --allowed-host app.test  also answer http://app.test:8080/ (in /etc/hosts)
  $ curl -r 100-199 http://127.0.0.1:8080/big.bin    fetch bytes 100..199 (206)
  $ netkit http serve ./files --tls-port 8443        HTTP on 8080 and HTTPS on 8443
  http listening on 127.0.0.1:8080
  http listening on 127.0.0.1:8443 (tls)
  $ curl --cacert netkit-data/tls/dev-cert.pem https://localhost:8443/big.bin -o big.bin
  $ netkit http serve ./files --tls --port 8443      HTTPS only
  $ netkit http serve ./site --host 0.0.0.0 --tls --port 443 --cert cert.pem --key key.pem

Without --cert/--key, HTTPS uses a self-signed certificate for localhost, 127.0.0.1
and ::1, made on first use in DATA/tls/dev-cert.pem: give that file to clients
(curl --cacert, wget --ca-certificate, aria2c --ca-certificate, netkit http get
--cacert, netkit download --cacert), or use curl -k. HTTPS speaks
HTTP/1.1 (ALPN http/1.1); a plain http:// request sent to the HTTPS port is
answered 400. Connection limits count both ports together.`,
    )
    .action(
      action(async (dir: string, opts: ServeOptions) => {
        // loaded here, not at start-up: `netkit http get` shares this command group
        const { createFileServer } = await import('../http/file-server.js');
        checkNamable(dir, dir);
        const tls = await serveTlsMaterial(opts, {
          main: 'serve HTTPS',
          extra: 'an HTTPS port beside the plain one',
        });
        const server = await createFileServer({
          root: dir,
          dataDir: opts.data,
          host: opts.host,
          port: opts.port,
          tlsPort: opts.tlsPort,
          tlsOnly: opts.tls === true,
          tls,
          tlsHandshakeTimeoutMs: opts.handshakeTimeout,
          rateLimit: opts.rateLimit,
          noRange: !opts.range,
          listings: opts.listings,
          maxConnections: opts.maxClients,
          maxConnectionsPerIp: opts.maxPerIp,
          maxPipelined: opts.maxPipelined,
          maxBodyBytes: opts.maxBody,
          idleTimeoutMs: opts.idleTimeout,
          headersTimeoutMs: opts.headersTimeout,
          allowedHosts: opts.allowedHost,
        });
        const log = serverLog(opts.maxLogBacklog);
        onShutdown(() => server.close().then(log.report));
        if (opts.trace) printTrace(server, 'server', log.err);
        for (const a of server.addresses) announceListening('http', a, { json: opts.json, tls: a.tls });
      }),
    );
}
