/**
 * `netkit udp send|listen`: datagrams from the command line. One datagram per MESSAGE or per stdin
 * line; every datagram received is printed with its sender (text when it is one safe line, hex
 * when not, or the raw bytes with --raw). The sockets are in `sockets/udp.ts`.
 */
import { type Command, Option } from 'commander';
import { NetkitError } from '../core/errors.js';
import { LineSplitter } from '../core/lines.js';
import { formatHostPort } from '../core/server.js';
import { groupDigits, isPrintableText, isSafeLine } from '../sockets/bytes.js';
import {
  bindUdp,
  checkPayloadSize,
  type Datagram,
  MAX_UDP_PAYLOAD,
  MAX_UDP6_PAYLOAD,
  UdpClient,
  udpLimitWords,
} from '../sockets/udp.js';
import { lossyStderr, lossyStdout, maxLogBacklogOption, maxQueueOption } from './stdout.js';
import {
  action,
  durationOption,
  exitWithError,
  onShutdown,
  parseDestPort,
  parsePort,
  parsePositive,
  printJson,
  printTrace,
} from './util.js';

/**
 * One datagram for people: `[host:port] text` when the payload is one safe line of text, hex
 * otherwise (binary, several lines, CR, C1 controls, bidi or zero-width characters), so a payload
 * can never fake or hide the sender prefix. --raw and --json show the exact bytes.
 */
export function formatDatagram(d: Datagram): string {
  if (d.data.length === 0) return `[${d.from}] (empty datagram)`;
  if (isSafeLine(d.data)) return `[${d.from}] ${d.data.toString('utf8').replace(/\r?\n$/, '')}`;
  const hex = d.data
    .subarray(0, 256)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
  return `[${d.from}] ${d.data.length} bytes: ${hex}${d.data.length > 256 ? ' …' : ''}`;
}

export function datagramJson(d: Datagram): Record<string, unknown> {
  return {
    from: d.from,
    host: d.host,
    port: d.port,
    size: d.data.length,
    text: isPrintableText(d.data) ? d.data.toString('utf8') : null,
    hex: d.data.toString('hex'),
  };
}

function printDatagram(d: Datagram, opts: { json?: boolean; raw?: boolean }): void {
  if (opts.raw) process.stdout.write(d.data);
  else if (opts.json) printJson(datagramJson(d));
  else process.stdout.write(`${formatDatagram(d)}\n`);
}

function finish(code: number): Promise<never> {
  return new Promise(() => {
    process.stdout.write('', () => process.exit(code));
  });
}

interface SendOptions {
  wait: number;
  count?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  json?: boolean;
  raw?: boolean;
  trace?: boolean;
}

interface ListenOptions {
  host: string;
  echo?: boolean;
  udpRate: number;
  count?: number;
  json?: boolean;
  raw?: boolean;
  maxQueue: number;
  maxLogBacklog: number;
  trace?: boolean;
}

export function register(program: Command): void {
  const udp = program
    .command('udp')
    .description('send and receive UDP datagrams')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit udp send 127.0.0.1 7007 hello --wait 1s
  $ netkit udp listen 9999 --echo`,
    );

  udp
    .command('send')
    .description('send datagrams (MESSAGE, or one per stdin line) and print the replies')
    .argument('<host>', 'host name, IPv4 or IPv6 address')
    .argument('<port>', 'UDP port (1-65535)', parseDestPort)
    .argument('[message]', 'the payload of one datagram (default: one datagram per stdin line)')
    .addOption(
      durationOption(
        '-w, --wait <duration>',
        'after sending, wait this long for replies (e.g. 500ms, 2s; a bare number is seconds)',
        0,
      ),
    )
    .option('-n, --count <n>', 'stop after this many replies', parsePositive)
    .addOption(new Option('-4, --ipv4', 'use IPv4 only').conflicts('ipv6'))
    .addOption(new Option('-6, --ipv6', 'use IPv6 only').conflicts('ipv4'))
    .option('--json', 'print each reply as a JSON line')
    .option('--raw', 'write reply payloads to stdout as they are')
    .option('--trace', 'print every datagram in and out on stderr')
    .addHelpText(
      'after',
      `
Stdin lines are sent without their line terminator. A payload over ${groupDigits(MAX_UDP_PAYLOAD)} bytes
(${groupDigits(MAX_UDP6_PAYLOAD)} to an IPv6 address: the most one datagram can carry) is refused before
anything is sent.

Examples:
  $ netkit udp send 127.0.0.1 7007 hello --wait 500ms        echo service
  $ netkit udp send 127.0.0.1 7013 '' --wait 1s              daytime over UDP
  $ printf 'one\\ntwo\\n' | netkit udp send ::1 9999 --wait 200ms --json
  $ netkit udp send 127.0.0.1 7017 x --wait 2s --count 1     stop at the first reply`,
    )
    .action(
      action(async (host: string, port: number, message: string | undefined, opts: SendOptions) => {
        const client = await UdpClient.open(host, port, {
          family: opts.ipv4 ? 4 : opts.ipv6 ? 6 : undefined,
        });
        // the limit is the resolved address's family's (IPv6 carries 20 bytes more)
        if (message !== undefined) checkPayloadSize(Buffer.byteLength(message), client.family);
        if (opts.trace) printTrace(client, 'client');
        // a closed port answers with ICMP "port unreachable", as with nc -u: an error, exit 1
        client.on('error', (err) => {
          client.close();
          exitWithError(err, process.argv.includes('--debug'));
        });
        let replies = 0;
        client.on('message', (d: Datagram) => {
          printDatagram(d, opts);
          replies += 1;
          if (opts.count !== undefined && replies >= opts.count) {
            client.close();
            void finish(0);
          }
        });
        if (message !== undefined) {
          await client.send(message);
        } else {
          const splitter = new LineSplitter(client.maxPayload, undefined, 0);
          const sendLines = async (chunk: Buffer) => {
            for (const item of splitter.push(chunk)) {
              if (!('line' in item)) {
                throw new NetkitError('NETKIT_TOO_LARGE', `a stdin line is ${udpLimitWords(client.family)}`);
              }
              await client.send(item.line);
            }
          };
          for await (const chunk of process.stdin as AsyncIterable<Buffer>) await sendLines(chunk);
          // a last line without a terminator is still a datagram
          if (splitter.buffered > 0) await sendLines(Buffer.from('\n'));
        }
        if (opts.wait > 0 && (opts.count === undefined || replies < opts.count)) {
          await new Promise((r) => setTimeout(r, opts.wait));
        }
        client.close();
        await finish(0);
      }),
    );

  udp
    .command('listen')
    .description('print every datagram received, with its sender')
    .argument('<port>', 'UDP port (0 = any free port)', parsePort)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--echo', 'send every datagram back to its sender')
    .option(
      '--udp-rate <n>',
      'with --echo: replies per second to one client IP (more are dropped: limits reflection and loops)',
      parsePositive,
      64,
    )
    .option('-n, --count <n>', 'exit after this many datagrams', parsePositive)
    .option('--json', 'print the listening address, then each datagram, as JSON lines')
    .option('--raw', 'write payloads to stdout as they are')
    .addOption(maxQueueOption())
    .option('--trace', 'print every datagram in and out on stderr')
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
--echo answers as the classic UDP services do: never a source port below 1024 or its own port
(reflection, echo loops), at most --udp-rate replies per second to one IP; --trace shows the rest.
When stdout does not keep up (over --max-queue bytes waiting, 1 MiB by default), datagrams are
dropped, not buffered, and counted on stderr.

Examples:
  $ netkit udp listen 9999
  $ netkit udp listen 9999 --echo --host ::1
  $ netkit udp listen 0 --json          (port 0 = any free port; the first JSON line tells which)`,
    )
    .action(
      action(async (port: number, opts: ListenOptions) => {
        const listener = await bindUdp({
          host: opts.host,
          port,
          echo: opts.echo,
          repliesPerIp: opts.udpRate,
        });
        const trace = lossyStderr(opts.maxLogBacklog);
        const out = lossyStdout(opts.maxQueue);
        onShutdown(() => listener.close().then(out.report).then(trace.report));
        if (opts.trace) printTrace(listener, 'server', trace);
        if (opts.json) {
          printJson({
            service: 'udp',
            host: listener.host,
            port: listener.port,
            tls: false,
            transport: 'udp',
          });
        } else process.stderr.write(`udp listening on ${formatHostPort(listener.host, listener.port)}\n`);
        let seen = 0;
        listener.on('message', (d: Datagram) => {
          out.print(() => printDatagram(d, opts));
          seen += 1;
          if (opts.count !== undefined && seen >= opts.count) {
            void listener
              .close()
              .then(out.report)
              .then(trace.report)
              .then(() => finish(0));
          }
        });
      }),
    );
}
