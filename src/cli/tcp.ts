/**
 * `netkit tcp connect|listen|scan`: netcat-grade TCP from the command line. stdin and stdout carry
 * the raw bytes (binary-safe); everything else (peer addresses, traces, errors) goes to stderr.
 * TLS (`--tls`, as ncat `--ssl`), `-C` (CRLF), `--source`, `--send-only/--recv-only` and
 * `--allow/--deny` follow ncat. The work is in `sockets/tcp.ts`, `sockets/tcp-tls.ts` and
 * `sockets/scan.ts`.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_IDLE_MS } from '../core/connection.js';
import { resolveDataDir } from '../core/datadir.js';
import { NetkitError, usageError } from '../core/errors.js';
import { formatHostPort } from '../core/server.js';
import { loadTls, type TlsMaterial } from '../core/tls.js';
import { DEV_CERT_FILE } from '../core/tls-trust.js';
import { nextConnId, traceEvent } from '../core/trace.js';
import { parseAccessRule } from '../sockets/access.js';
import { InputBroadcast } from '../sockets/broadcast.js';
import { CrlfTransform } from '../sockets/crlf.js';
import {
  describeProxy,
  PROXY_TYPES,
  type ProxySpec,
  type ProxyType,
  parseProxyAuth,
  parseProxyUrl,
} from '../sockets/proxy.js';
import { parsePortList, type ScanResult, scanPorts } from '../sockets/scan.js';
import {
  relay,
  type TcpConnectionInfo,
  type TcpDeniedInfo,
  type TcpRefusedInfo,
  type TcpTlsErrorInfo,
  tcpConnect,
  tcpListen,
} from '../sockets/tcp.js';
import { tlsSessionInfo } from '../sockets/tcp-tls.js';
import { maxLogBacklogOption, serverLog } from './stdout.js';
import {
  action,
  checkReadable,
  durationOption,
  formatDuration,
  onShutdown,
  parseDestPort,
  parseDuration,
  parsePort,
  parsePositive,
  printJson,
  printTrace,
} from './util.js';

/** `--alpn h2,http/1.1` → protocol names (each 1-255 bytes). */
function parseAlpn(value: string): string[] {
  const list = value.split(',').map((p) => p.trim());
  if (list.some((p) => p === '' || Buffer.byteLength(p) > 255))
    throw new InvalidArgumentError(
      `"${value}" is not a comma-separated list of ALPN protocols (e.g. h2,http/1.1)`,
    );
  return list;
}

/** A repeatable `--allow/--deny ADDR[/PREFIX]`, checked when parsed (a bad one is a usage error). */
function accessRule(value: string, previous: string[] = []): string[] {
  try {
    parseAccessRule(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return [...previous, value];
}

/** `-v` over TLS: protocol, cipher, ALPN and the peer certificate, as `ncat --ssl -v` tells. */
function reportTls(socket: TLSSocket, name: string): void {
  const info = tlsSessionInfo(socket);
  const lines = [`TLS ${info.protocol}, cipher ${info.cipher}${info.alpn ? `, ALPN ${info.alpn}` : ''}`];
  if (info.subject !== undefined) {
    lines.push(`certificate subject: ${info.subject}`);
    lines.push(`certificate issuer: ${info.issuer}`);
    lines.push(`certificate valid until ${info.validTo}, SHA-256 ${info.fingerprint256}`);
  }
  lines.push(
    info.authorized
      ? `certificate verified for ${name}`
      : `certificate NOT verified (--insecure)${info.authorizationError ? `: ${info.authorizationError}` : ''}`,
  );
  process.stderr.write(
    `${lines
      .map(
        (l) => `${l}
`,
      )
      .join('')}`,
  );
}

/** Flush stdout, then exit (stdout may be a pipe with bytes still queued). */
function finish(code: number): Promise<never> {
  return new Promise(() => {
    process.stdout.write('', () => process.exit(code));
  });
}

interface ConnectOptions {
  timeout: number;
  idleTimeout?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  trace?: boolean;
  verbose?: boolean;
  tls?: boolean;
  insecure?: boolean;
  ca?: string;
  servername?: string;
  alpn?: string[];
  crlf?: boolean;
  source?: string;
  sourcePort?: number;
  sendOnly?: boolean;
  recvOnly?: boolean;
  proxy?: string;
  proxyType?: ProxyType;
  proxyAuth?: string;
}

/** `--proxy URL` with `--proxy-type` (for a bare host:port) and `--proxy-auth` (wins over the URL's). */
function proxyFromOptions(opts: ConnectOptions): ProxySpec | undefined {
  if (opts.proxy === undefined) {
    if (opts.proxyType !== undefined) throw usageError('--proxy-type needs --proxy');
    if (opts.proxyAuth !== undefined) throw usageError('--proxy-auth needs --proxy');
    return undefined;
  }
  let spec: ProxySpec;
  try {
    spec = parseProxyUrl(opts.proxy, opts.proxyType ?? 'http');
    if (opts.proxyAuth !== undefined) spec.auth = parseProxyAuth(opts.proxyAuth);
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  if (opts.proxyType !== undefined && spec.type !== opts.proxyType && /^[a-z0-9+.-]+:\/\//i.test(opts.proxy))
    throw usageError(`--proxy-type ${opts.proxyType} contradicts the ${spec.type}:// proxy URL`);
  return spec;
}

interface ListenOptions {
  host: string;
  keepOpen?: boolean;
  echo?: boolean;
  json?: boolean;
  idleTimeout?: number;
  maxConnections: number;
  maxPerIp: number;
  stallTimeout: number;
  trace?: boolean;
  tls?: boolean;
  cert?: string;
  key?: string;
  data?: string;
  allow?: string[];
  deny?: string[];
  crlf?: boolean;
  sendOnly?: boolean;
  recvOnly?: boolean;
  maxLogBacklog: number;
}

/**
 * `tcp listen -k` is a long-running server: as `serve` and the protocol core, an idle connection
 * is closed after 5 minutes unless `-i` says otherwise (0 = never), and one client address gets a
 * tenth of the slots, so a single host cannot take them all. A one-shot listener serves one
 * connection as netcat does, with no idle timeout unless asked.
 */
export const KEEP_OPEN_IDLE_MS = DEFAULT_IDLE_MS;
export const KEEP_OPEN_MAX_CONNECTIONS = 100;
export const KEEP_OPEN_MAX_PER_IP = 10;

/** The connection limits `tcp listen` runs with, from its options. */
export function listenLimits(
  opts: Pick<ListenOptions, 'keepOpen' | 'idleTimeout' | 'maxConnections' | 'maxPerIp'>,
): {
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number | undefined;
} {
  if (!opts.keepOpen) return { maxConnections: 1, maxConnectionsPerIp: 1, idleTimeoutMs: opts.idleTimeout };
  return {
    maxConnections: opts.maxConnections,
    maxConnectionsPerIp: opts.maxPerIp,
    idleTimeoutMs: opts.idleTimeout ?? KEEP_OPEN_IDLE_MS,
  };
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
  $ netkit tcp connect --tls -v example.org 443
  $ printf 'EHLO me\\n' | netkit tcp connect -C 127.0.0.1 2525
  $ netkit tcp listen 9000 --echo --keep-open
  $ netkit tcp listen 9443 --tls --keep-open --allow 127.0.0.1
  $ netkit tcp scan 127.0.0.1 20-25,80,443`,
    );

  tcp
    .command('connect')
    .description('connect and relay stdin -> socket, socket -> stdout (binary-safe), optionally over TLS')
    .argument('<host>', 'host name, IPv4 or IPv6 address')
    .argument('<port>', 'TCP port (1-65535)', parseDestPort)
    .addOption(
      durationOption(
        '-w, --timeout <duration>',
        'connect timeout, TLS handshake included (e.g. 5s, 500ms; a bare number is seconds)',
        10_000,
      ),
    )
    .option('-i, --idle-timeout <duration>', 'close after this long without traffic', parseDuration)
    .addOption(new Option('-4, --ipv4', 'use IPv4 only').conflicts('ipv6'))
    .addOption(new Option('-6, --ipv6', 'use IPv6 only').conflicts('ipv4'))
    .option('-s, --source <address>', 'local address to connect from (an address of this machine)')
    .option('-p, --source-port <port>', 'local port to connect from', parsePort)
    .option('-C, --crlf', 'send the LF line endings of stdin as CRLF (talk SMTP, POP3, HTTP by hand)')
    .addOption(
      new Option('--send-only', 'only send: ignore what the peer sends, close at end of stdin').conflicts(
        'recvOnly',
      ),
    )
    .addOption(new Option('--recv-only', 'only receive: never read stdin').conflicts('sendOnly'))
    .option('--tls', 'speak TLS; the certificate and host name are verified (system roots)')
    .addOption(
      new Option('-k, --insecure', 'with --tls: do not verify the certificate or host name').conflicts('ca'),
    )
    .option('--ca <file>', 'with --tls: trust the certificates in this PEM file instead of the system roots')
    .option('--servername <name>', 'with --tls: SNI and the name to verify (default: HOST unless an address)')
    .option(
      '--alpn <list>',
      'with --tls: ALPN protocols to offer, comma-separated (e.g. h2,http/1.1)',
      parseAlpn,
    )
    .option(
      '--proxy <url>',
      'reach HOST PORT through a proxy: http://[user:pass@]host[:3128], socks5://, socks5h://, socks4://, socks4a:// (default port 1080)',
    )
    .addOption(
      new Option(
        '--proxy-type <type>',
        'with --proxy: the type of a bare host:port proxy (default http)',
      ).choices(PROXY_TYPES),
    )
    .option(
      '--proxy-auth <user:pass>',
      'with --proxy: credentials (HTTP Basic, SOCKS5 RFC 1929, SOCKS4 user id)',
    )
    .option('-v, --verbose', 'report the connection (and the TLS session) on stderr')
    .option('--trace', 'print every chunk in and out on stderr')
    .addHelpText(
      'after',
      `
--proxy tunnels the connection: HTTP CONNECT (a 2xx opens the tunnel), SOCKS5 (socks5:// resolves
HOST here, socks5h:// lets the proxy resolve it), SOCKS4/4a. --timeout covers the proxy connect
and handshake; --tls runs inside the tunnel and verifies HOST, not the proxy. No environment
variable (http_proxy, all_proxy) is read, as in ncat: only --proxy sets a proxy. Traces and
errors never show the proxy password.

On end of stdin the write side is shut down (half-close; over TLS a close_notify, then FIN) and the
output keeps flowing until the peer closes: a server that answers only after end-of-file still
gets to answer. --send-only closes at end of stdin instead; --recv-only leaves stdin alone.
With --tls a certificate that does not verify is an error (exit 1) naming the reason; -v prints
the protocol, cipher and the peer certificate's subject and issuer.

Examples:
  $ printf 'GET / HTTP/1.0\\r\\nHost: example.org\\r\\n\\r\\n' | netkit tcp connect example.org 80
  $ printf 'GET / HTTP/1.0\\nHost: example.org\\n\\n' | netkit tcp connect --tls -C example.org 443
  $ netkit tcp connect --tls -v example.org 443 < /dev/null
  $ netkit tcp connect --tls --ca netkit-data/tls/dev-cert.pem localhost 9443
  $ netkit tcp connect --tls -k --alpn h2,http/1.1 127.0.0.1 8443
  $ printf 'EHLO me\\nQUIT\\n' | netkit tcp connect -C 127.0.0.1 2525
  $ netkit tcp connect ::1 7007 < photo.jpg > copy.jpg
  $ netkit tcp connect --source 127.0.0.2 --source-port 40000 127.0.0.1 7007
  $ netkit tcp connect --recv-only 127.0.0.1 7019 | head -c 300
  $ echo hello | netkit tcp connect 127.0.0.1 7007 --trace
  $ netkit tcp connect 10.0.0.9 22 --timeout 2s
  $ netkit tcp connect --proxy http://alice:secret@127.0.0.1:3128 example.org 80
  $ netkit tcp connect --proxy socks5h://127.0.0.1:1080 --tls -v example.org 443 < /dev/null
  $ netkit tcp connect --proxy 127.0.0.1:1080 --proxy-type socks5 --proxy-auth bob:pw 10.0.0.5 22`,
    )
    .action(
      action(async (host: string, port: number, opts: ConnectOptions) => {
        if (!opts.tls) {
          for (const [flag, value] of [
            ['--insecure', opts.insecure],
            ['--ca', opts.ca],
            ['--servername', opts.servername],
            ['--alpn', opts.alpn],
          ] as const) {
            if (value !== undefined) throw usageError(`${flag} needs --tls`);
          }
        }
        if (opts.source !== undefined && isIP(opts.source) === 0)
          throw usageError(`--source "${opts.source}" is not an IPv4 or IPv6 address`);
        let ca: string | undefined;
        if (opts.ca !== undefined) {
          await checkReadable('--ca', opts.ca);
          ca = await readFile(opts.ca, 'utf8');
          if (!ca.includes('-----BEGIN CERTIFICATE-----'))
            throw new NetkitError('NETKIT_INVALID_INPUT', `--ca ${opts.ca}: no PEM certificate in it`);
        }
        const proxy = proxyFromOptions(opts);
        const tracer = new EventEmitter();
        if (opts.trace) printTrace(tracer, 'client');
        const conn = nextConnId();
        if (proxy) traceEvent(tracer, 'tcp', conn, 'info', `via proxy ${describeProxy(proxy)}`);
        const socket = await tcpConnect({
          host,
          port,
          timeoutMs: opts.timeout,
          family: opts.ipv4 ? 4 : opts.ipv6 ? 6 : undefined,
          localAddress: opts.source,
          localPort: opts.sourcePort,
          tls: opts.tls
            ? { insecure: opts.insecure, ca, servername: opts.servername, alpn: opts.alpn }
            : undefined,
          proxy,
          tracer,
          conn,
        });
        const peer = proxy
          ? formatHostPort(host, port)
          : formatHostPort(socket.remoteAddress ?? host, socket.remotePort ?? port);
        if (opts.verbose) {
          const from = formatHostPort(socket.localAddress ?? '?', socket.localPort ?? 0);
          const via = proxy
            ? ` via proxy ${describeProxy(proxy)} (${formatHostPort(socket.remoteAddress ?? proxy.host, socket.remotePort ?? proxy.port)})`
            : '';
          process.stderr.write(`connected to ${peer}${via} from ${from}\n`);
          if (opts.tls) reportTls(socket as TLSSocket, opts.servername ?? host);
        }
        traceEvent(tracer, 'tcp', conn, 'connect', opts.tls ? 'tls' : '', peer);
        await relay(socket, opts.recvOnly ? null : process.stdin, process.stdout, {
          idleTimeoutMs: opts.idleTimeout,
          tracer,
          service: 'tcp',
          conn,
          crlf: opts.crlf,
          sendOnly: opts.sendOnly,
          // at a terminal, the peer closing ends the session (netcat does the same)
          endOnPeerEof: process.stdin.isTTY === true,
        });
        await finish(0);
      }),
    );

  tcp
    .command('listen')
    .description('accept a connection and relay it with stdin/stdout (or echo), optionally over TLS')
    .argument('<port>', 'TCP port (0 = any free port)', parsePort)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('-k, --keep-open', 'accept many connections, one after another or at once')
    .addOption(
      new Option('--echo', 'echo every connection back to itself instead of relaying stdin/stdout').conflicts(
        ['crlf', 'sendOnly', 'recvOnly'],
      ),
    )
    .option('--allow <addr[/prefix]>', 'only accept peers in this range (repeatable)', accessRule, [])
    .option(
      '--deny <addr[/prefix]>',
      'close peers in this range at once (repeatable; wins over --allow)',
      accessRule,
      [],
    )
    .option('-C, --crlf', 'send the LF line endings of stdin as CRLF')
    .addOption(
      new Option('--send-only', 'only send stdin: what clients send is dropped').conflicts('recvOnly'),
    )
    .addOption(new Option('--recv-only', 'only receive: never read stdin').conflicts('sendOnly'))
    .option('--tls', 'speak TLS (implicit, as ncat --ssl -l)')
    .option(
      '--cert <file>',
      'with --tls: certificate (PEM; default: a self-signed dev certificate in DATA/tls)',
    )
    .option('--key <file>', 'with --tls: private key (PEM), with --cert')
    .option(
      '--data <dir>',
      'with --tls: data directory that keeps the dev certificate (default ./netkit-data)',
    )
    .option(
      '-i, --idle-timeout <duration>',
      `close a connection after this long without traffic (0 = never; default with --keep-open: ${formatDuration(KEEP_OPEN_IDLE_MS)}, else never)`,
      parseDuration,
    )
    .option(
      '--max-connections <n>',
      'connections at once (with --keep-open)',
      parsePositive,
      KEEP_OPEN_MAX_CONNECTIONS,
    )
    .option(
      '--max-per-ip <n>',
      'connections at once from one client address (with --keep-open)',
      parsePositive,
      KEEP_OPEN_MAX_PER_IP,
    )
    .addOption(
      durationOption(
        '--stall-timeout <duration>',
        'with --keep-open: drop a client that holds stdin back this long without reading',
        30_000,
      ),
    )
    .option('--json', 'print the listening address as a JSON line on stdout first')
    .option('--trace', 'print every chunk in and out on stderr')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
The peer's address is printed on stderr. Without --keep-open the first connection is accepted, the
listening socket is closed, and the command exits when that connection ends. With --keep-open,
everything received goes to stdout and stdin goes to every connected client: stdin is read only
as fast as the slowest client takes it, and a client that stops reading is dropped once it has
held the others back for --stall-timeout.

--allow/--deny take an address or ADDRESS/PREFIX (IPv4 or IPv6; ::ffff:a.b.c.d is a.b.c.d); a peer
outside every --allow range, or inside a --deny range, is closed before anything is read and
reported on stderr. With --tls, a client whose handshake fails is dropped and reported; the
listener keeps waiting for a good one. Clients verify the dev certificate with
--ca DATA/tls/dev-cert.pem (it is valid for localhost, 127.0.0.1 and ::1).

Examples:
  $ netkit tcp listen 9000 > received.bin
  $ netkit tcp listen 9000 --echo --keep-open
  $ netkit tcp listen 9443 --tls --echo --keep-open
  $ netkit tcp listen 9443 --tls --cert cert.pem --key key.pem --host 0.0.0.0
  $ netkit tcp listen 9000 --host :: --keep-open --allow 10.0.0.0/8 --deny 10.0.0.13
  $ netkit tcp listen 0 --json              (port 0 = any free port; the JSON line tells which)
  $ netkit tcp listen 9000 --host ::1`,
    )
    .action(
      action(async (port: number, opts: ListenOptions) => {
        let tlsMaterial: TlsMaterial | undefined;
        let devCert: string | undefined;
        if (opts.tls) {
          if (Boolean(opts.cert) !== Boolean(opts.key)) throw usageError('--cert and --key go together');
          await checkReadable('--cert', opts.cert);
          await checkReadable('--key', opts.key);
          const dataDir = resolveDataDir(opts.data);
          tlsMaterial = await loadTls(dataDir, { cert: opts.cert, key: opts.key });
          if (!opts.cert) devCert = path.join(dataDir, DEV_CERT_FILE);
        } else {
          for (const [flag, value] of [
            ['--cert', opts.cert],
            ['--key', opts.key],
            ['--data', opts.data],
          ] as const) {
            if (value !== undefined) throw usageError(`${flag} needs --tls`);
          }
        }
        const limits = listenLimits(opts);
        const listener = await tcpListen({
          host: opts.host,
          port,
          echo: opts.echo,
          once: !opts.keepOpen,
          ...limits,
          allow: opts.allow,
          deny: opts.deny,
          tls: tlsMaterial ? { context: tlsMaterial.context } : undefined,
        });
        // the notes per connection and the trace: bounded, as a flood of connections cannot wait for them
        const log = serverLog(opts.maxLogBacklog, ['log line', 'log lines'], { dataOnStdout: true });
        if (opts.trace) printTrace(listener, 'server', log.err);
        const exit = (code: number) => void log.report().then(() => finish(code));
        onShutdown(() => listener.close(1000).then(log.report));
        const where = formatHostPort(listener.host, listener.port);
        if (opts.json) {
          printJson({
            service: 'tcp',
            host: listener.host,
            port: listener.port,
            tls: opts.tls === true,
            transport: 'tcp',
          });
        } else {
          process.stderr.write(`tcp listening on ${where}${opts.tls ? ' (tls)' : ''}\n`);
          if (devCert)
            process.stderr.write(`self-signed certificate ${devCert} (clients: --ca it, or --insecure)\n`);
        }

        listener.on('denied', (d: TcpDeniedInfo) =>
          log.err.line(
            `connection from ${d.peer} denied (${d.reason === 'denied' ? `--deny ${d.rule}` : 'not in --allow'})`,
          ),
        );
        listener.on('refused', (r: TcpRefusedInfo) =>
          log.err.line(
            `connection from ${r.peer} refused (${
              !opts.keepOpen
                ? 'busy: one connection without --keep-open'
                : r.reason === 'per-ip'
                  ? `--max-per-ip ${limits.maxConnectionsPerIp} from its address`
                  : `--max-connections ${limits.maxConnections}`
            })`,
          ),
        );
        listener.on('tlsError', (e: TcpTlsErrorInfo) =>
          log.err.line(`${e.peer}: TLS handshake failed: ${e.error.message}`),
        );
        const output = opts.sendOnly ? null : process.stdout;
        // keep-open: stdin goes to every client, read no faster than the slowest one takes it
        const broadcast =
          opts.keepOpen && !opts.echo && !opts.recvOnly
            ? new InputBroadcast(opts.crlf ? process.stdin.pipe(new CrlfTransform()) : process.stdin, {
                stallMs: opts.stallTimeout,
                onDrop: (s) =>
                  log.err.line(
                    `${formatHostPort(s.remoteAddress ?? '?', s.remotePort ?? 0)}: not reading, dropped`,
                  ),
              })
            : undefined;
        if (broadcast) process.stdin.on('error', () => {});

        listener.on('connection', (c: TcpConnectionInfo) => {
          const session = c.tls ? ` (${c.tls.protocol}, ${c.tls.cipher})` : '';
          log.err.line(`connection from ${c.peer}${session}`);
          c.socket.once('close', () => {
            if (opts.keepOpen) log.err.line(`${c.peer} disconnected`);
          });
          if (opts.echo) {
            if (!opts.keepOpen) c.socket.once('close', () => exit(0));
            return;
          }
          if (!opts.keepOpen) {
            relay(c.socket, opts.recvOnly ? null : process.stdin, process.stdout, {
              idleTimeoutMs: limits.idleTimeoutMs,
              tracer: listener,
              conn: c.id,
              crlf: opts.crlf,
              sendOnly: opts.sendOnly,
            }).then(
              () => exit(0),
              (err) => {
                process.stderr.write(`netkit: ${err instanceof Error ? err.message : String(err)}\n`);
                exit(1);
              },
            );
            return;
          }
          // keep-open: every client's bytes to stdout; stdin is broadcast (see above)
          relay(c.socket, null, output, {
            idleTimeoutMs: limits.idleTimeoutMs,
            tracer: listener,
            conn: c.id,
          }).catch((err) => log.err.line(`${c.peer}: ${err instanceof Error ? err.message : err}`));
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
