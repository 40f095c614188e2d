/**
 * `netkit tcp connect|listen|scan`: netcat-grade TCP from the command line. stdin and stdout carry
 * the raw bytes (binary-safe); everything else (peer addresses, traces, errors) goes to stderr.
 * The work is in `sockets/tcp.ts` and `sockets/scan.ts`.
 */
import { EventEmitter } from 'node:events';
import { type Command, Option } from 'commander';
import { NetkitError, usageError } from '../core/errors.js';
import { formatHostPort } from '../core/server.js';
import type { TraceEvent } from '../core/trace.js';
import { formatTrace, nextConnId, traceEvent } from '../core/trace.js';
import { InputBroadcast } from '../sockets/broadcast.js';
import { parsePortList, type ScanResult, scanPorts } from '../sockets/scan.js';
import { relay, type TcpConnectionInfo, tcpConnect, tcpListen } from '../sockets/tcp.js';
import {
  action,
  durationOption,
  onShutdown,
  parseDestPort,
  parseDuration,
  parsePort,
  parsePositive,
  printJson,
} from './util.js';

/** Flush stdout, then exit (stdout may be a pipe with bytes still queued). */
function finish(code: number): Promise<never> {
  return new Promise(() => {
    process.stdout.write('', () => process.exit(code));
  });
}

function traceTo(emitter: NodeJS.EventEmitter, side: 'server' | 'client'): void {
  emitter.on('trace', (ev: TraceEvent) => process.stderr.write(`${formatTrace(ev, side)}\n`));
}

interface ConnectOptions {
  timeout: number;
  idleTimeout?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  trace?: boolean;
  verbose?: boolean;
}

interface ListenOptions {
  host: string;
  keepOpen?: boolean;
  echo?: boolean;
  json?: boolean;
  idleTimeout?: number;
  maxConnections?: number;
  stallTimeout: number;
  trace?: boolean;
}

interface ScanOptions {
  concurrency: number;
  timeout: number;
  all?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const tcp = program
    .command('tcp')
    .description('netcat-style TCP connect, listen and port scan')
    .addHelpText(
      'after',
      `
Examples:
  $ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | netkit tcp connect example.org 80
  $ netkit tcp listen 9000 --echo --keep-open
  $ netkit tcp scan 127.0.0.1 20-25,80,443`,
    );

  tcp
    .command('connect')
    .description('connect and relay stdin -> socket, socket -> stdout (binary-safe)')
    .argument('<host>', 'host name, IPv4 or IPv6 address')
    .argument('<port>', 'TCP port (1-65535)', parseDestPort)
    .addOption(
      durationOption(
        '-w, --timeout <duration>',
        'connect timeout (e.g. 5s, 500ms; a bare number is seconds)',
        10_000,
      ),
    )
    .option('-i, --idle-timeout <duration>', 'close after this long without traffic', parseDuration)
    .addOption(new Option('-4, --ipv4', 'use IPv4 only').conflicts('ipv6'))
    .addOption(new Option('-6, --ipv6', 'use IPv6 only').conflicts('ipv4'))
    .option('-v, --verbose', 'report the connection on stderr')
    .option('--trace', 'print every chunk in and out on stderr')
    .addHelpText(
      'after',
      `
On end of stdin the write side is shut down (half-close) and the output keeps flowing until the
peer closes: a server that answers only after end-of-file still gets to answer.

Examples:
  $ printf 'GET / HTTP/1.0\\r\\nHost: example.org\\r\\n\\r\\n' | netkit tcp connect example.org 80
  $ netkit tcp connect ::1 7007 < photo.jpg > copy.jpg
  $ echo hello | netkit tcp connect 127.0.0.1 7007 --trace
  $ netkit tcp connect 10.0.0.9 22 --timeout 2s`,
    )
    .action(
      action(async (host: string, port: number, opts: ConnectOptions) => {
        const tracer = new EventEmitter();
        if (opts.trace) traceTo(tracer, 'client');
        const socket = await tcpConnect({
          host,
          port,
          timeoutMs: opts.timeout,
          family: opts.ipv4 ? 4 : opts.ipv6 ? 6 : undefined,
        });
        const peer = formatHostPort(socket.remoteAddress ?? host, socket.remotePort ?? port);
        if (opts.verbose) process.stderr.write(`connected to ${peer}\n`);
        const conn = nextConnId();
        traceEvent(tracer, 'tcp', conn, 'connect', '', peer);
        await relay(socket, process.stdin, process.stdout, {
          idleTimeoutMs: opts.idleTimeout,
          tracer,
          service: 'tcp',
          conn,
          // at a terminal, the peer closing ends the session (netcat does the same)
          endOnPeerEof: process.stdin.isTTY === true,
        });
        await finish(0);
      }),
    );

  tcp
    .command('listen')
    .description('accept a connection and relay it with stdin/stdout (or echo)')
    .argument('<port>', 'TCP port (0 = any free port)', parsePort)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('-k, --keep-open', 'accept many connections, one after another or at once')
    .option('--echo', 'echo every connection back to itself instead of relaying stdin/stdout')
    .option(
      '-i, --idle-timeout <duration>',
      'close a connection after this long without traffic',
      parseDuration,
    )
    .option('--max-connections <n>', 'connections at once (with --keep-open)', parsePositive, 100)
    .addOption(
      durationOption(
        '--stall-timeout <duration>',
        'with --keep-open: drop a client that holds stdin back this long without reading',
        30_000,
      ),
    )
    .option('--json', 'print the listening address as a JSON line on stdout first')
    .option('--trace', 'print every chunk in and out on stderr')
    .addHelpText(
      'after',
      `
The peer's address is printed on stderr. Without --keep-open the first connection is accepted, the
listening socket is closed, and the command exits when that connection ends. With --keep-open,
everything received goes to stdout and stdin goes to every connected client: stdin is read only
as fast as the slowest client takes it, and a client that stops reading is dropped once it has
held the others back for --stall-timeout.

Examples:
  $ netkit tcp listen 9000 > received.bin
  $ netkit tcp listen 9000 --echo --keep-open
  $ netkit tcp listen 0 --json              (port 0 = any free port; the JSON line tells which)
  $ netkit tcp listen 9000 --host ::1`,
    )
    .action(
      action(async (port: number, opts: ListenOptions) => {
        const listener = await tcpListen({
          host: opts.host,
          port,
          echo: opts.echo,
          once: !opts.keepOpen,
          maxConnections: opts.keepOpen ? opts.maxConnections : 1,
          idleTimeoutMs: opts.idleTimeout,
        });
        if (opts.trace) traceTo(listener, 'server');
        const where = formatHostPort(listener.host, listener.port);
        if (opts.json) {
          printJson({
            service: 'tcp',
            host: listener.host,
            port: listener.port,
            tls: false,
            transport: 'tcp',
          });
        } else process.stderr.write(`tcp listening on ${where}\n`);

        onShutdown(() => listener.close(1000));
        // keep-open: stdin goes to every client, read no faster than the slowest one takes it
        const broadcast =
          opts.keepOpen && !opts.echo
            ? new InputBroadcast(process.stdin, {
                stallMs: opts.stallTimeout,
                onDrop: (s) =>
                  process.stderr.write(
                    `${formatHostPort(s.remoteAddress ?? '?', s.remotePort ?? 0)}: not reading, dropped\n`,
                  ),
              })
            : undefined;
        if (broadcast) process.stdin.on('error', () => {});

        listener.on('connection', (c: TcpConnectionInfo) => {
          process.stderr.write(`connection from ${c.peer}\n`);
          c.socket.once('close', () => {
            if (opts.keepOpen) process.stderr.write(`${c.peer} disconnected\n`);
          });
          if (opts.echo) {
            if (!opts.keepOpen) c.socket.once('close', () => void finish(0));
            return;
          }
          if (!opts.keepOpen) {
            relay(c.socket, process.stdin, process.stdout, {
              idleTimeoutMs: opts.idleTimeout,
              tracer: listener,
              conn: c.id,
            }).then(
              () => finish(0),
              (err) => {
                process.stderr.write(`netkit: ${err instanceof Error ? err.message : String(err)}\n`);
                return finish(1);
              },
            );
            return;
          }
          // keep-open: every client's bytes to stdout; stdin is broadcast (see above)
          relay(c.socket, null, process.stdout, {
            idleTimeoutMs: opts.idleTimeout,
            tracer: listener,
            conn: c.id,
          }).catch((err) => process.stderr.write(`${c.peer}: ${err instanceof Error ? err.message : err}\n`));
          broadcast?.add(c.socket);
        });
      }),
    );

  tcp
    .command('scan')
    .description('TCP connect scan: which ports are open')
    .argument('<host>', 'host name or address (scan only machines you are allowed to scan)')
    .argument('<ports>', 'ports and ranges, e.g. 20-25,80,443')
    .option('-c, --concurrency <n>', 'connection attempts at once', parsePositive, 100)
    .addOption(
      durationOption('-w, --timeout <duration>', 'per-port connect timeout (a bare number is seconds)', 1000),
    )
    .option('-a, --all', 'also list closed and filtered ports')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
A port is open when the handshake completes, closed when the host resets the connection, and
filtered when nothing answers before the timeout. Service names come from /etc/services.

Examples:
  $ netkit tcp scan 127.0.0.1 1-1024
  $ netkit tcp scan localhost 20-25,80,443,7000-7040 --json
  $ netkit tcp scan 10.0.0.5 22,80 --timeout 300ms --concurrency 20`,
    )
    .action(
      action(async (host: string, portsText: string, opts: ScanOptions) => {
        let ports: number[];
        try {
          ports = parsePortList(portsText);
        } catch (err) {
          throw err instanceof NetkitError ? usageError(err.message) : err;
        }
        const report = await scanPorts({
          host,
          ports,
          concurrency: opts.concurrency,
          timeoutMs: opts.timeout,
        });
        if (opts.json) {
          const count = (s: string) => report.results.filter((r) => r.state === s).length;
          return printJson({
            host: report.host,
            address: report.address,
            scanned: report.results.length,
            open: report.open,
            closed: count('closed'),
            filtered: count('filtered'),
            ms: report.ms,
            ...(opts.all ? { results: report.results } : {}),
          });
        }
        const shown: ScanResult[] = opts.all ? report.results : report.open;
        const lines = shown.map((r) =>
          `${`${r.port}/tcp`.padEnd(10)} ${r.state.padEnd(9)} ${r.service ?? ''}`.trimEnd(),
        );
        if (lines.length) lines.unshift(`${'PORT'.padEnd(10)} ${'STATE'.padEnd(9)} SERVICE`);
        const closed = report.results.filter((r) => r.state === 'closed').length;
        const filtered = report.results.length - closed - report.open.length;
        lines.push(
          `scanned ${report.results.length} port${report.results.length === 1 ? '' : 's'} on ${report.address} in ${(report.ms / 1000).toFixed(2)} s: ${report.open.length} open, ${closed} closed, ${filtered} filtered`,
        );
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
