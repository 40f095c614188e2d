/**
 * `netkit multicast chat|send|listen`: the CLI over `MulticastChat` and `MulticastSocket`.
 * Presentation only: the prompt, the output formats (human and `--json`), and leaving the group on
 * exit (Ctrl-C, SIGTERM, end of input).
 */
import readline from 'node:readline';
import { type Command, InvalidArgumentError } from 'commander';
import { usageError } from '../core/errors.js';
import { formatHostPort } from '../core/server.js';
import { isPrintableText } from '../sockets/bytes.js';
import {
  DEFAULT_MULTICAST_GROUP,
  DEFAULT_MULTICAST_PORT,
  decodeChatDatagram,
  MulticastChat,
  type MulticastChatMessage,
  type MulticastDatagram,
  MulticastSocket,
} from '../sockets/multicast.js';
import { createPrompt } from './chat-prompt.js';
import { lossyStderr, lossyStdout, maxLogBacklogOption, maxQueueOption } from './stdout.js';
import {
  action,
  dim,
  durationOption,
  onShutdown,
  parseDestPort,
  parseInteger,
  parsePositive,
  printJson,
  printTrace,
} from './util.js';

interface CommonOptions {
  group: string;
  port: number;
  interface?: string;
  ttl: number;
  loopback: boolean;
  json?: boolean;
  trace?: boolean;
  /** --max-log-backlog of the receiving commands (chat, listen): the trace waits at most this */
  maxLogBacklog?: number;
}

function parseTtl(value: string): number {
  const n = parseInteger(value);
  if (n < 0 || n > 255) throw new InvalidArgumentError(`"${value}" is not a TTL (0-255)`);
  return n;
}

function common(cmd: Command, opts: { send: boolean; receive: boolean }): Command {
  cmd
    .option('-g, --group <address>', 'multicast group address', DEFAULT_MULTICAST_GROUP)
    .option('-p, --port <port>', 'UDP port of the group (1-65535)', parseDestPort, DEFAULT_MULTICAST_PORT)
    .option('-i, --interface <address>', 'local interface address to use (e.g. 127.0.0.1, 192.168.1.10)');
  if (opts.send) {
    cmd
      .option('--ttl <n>', 'IP_MULTICAST_TTL: how many router hops (1 = this network)', parseTtl, 1)
      .option('--no-loopback', 'do not deliver our datagrams to sockets on this host (ourselves included)');
  }
  return cmd.option('--trace', 'print socket events on stderr');
}

/** What happens to a received chat message: one line, human or JSON. */
function formatChat(m: MulticastChatMessage, json: boolean): string {
  if (json)
    return JSON.stringify({
      nick: m.nick,
      text: m.text,
      self: m.self,
      plain: m.plain,
      from: formatHostPort(m.address, m.port),
    });
  return m.self ? `${m.nick} (me): ${m.text}` : `${m.nick}: ${m.text}`;
}

function registerChat(group: Command): void {
  common(group.command('chat'), { send: true, receive: true })
    .description("chat with everyone in a multicast group: stdin lines out, the group's lines in")
    .requiredOption('-n, --nick <name>', 'your name in the group (required)')
    .option('--json', 'print received messages as JSON lines')
    .addOption(maxQueueOption('messages'))
    .addOption(maxLogBacklogOption())
    .addOption(
      durationOption('--linger <duration>', 'when input ends, keep listening this long before leaving', 500),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit multicast chat --nick alice                      group 239.255.0.1, port 5007, TTL 1
  $ netkit multicast chat --group 239.255.0.1 --port 5007 --ttl 1 --nick bob
  $ netkit multicast chat --nick carol --interface 127.0.0.1   this host only (no multicast route needed)
  $ echo "hello group" | netkit multicast chat --nick bot --linger 2s

Messages travel as JSON: {"app":"netkit-mchat","v":1,"id":"…","nick":"alice","text":"hi"};
your own come back marked "(me)" (unless --no-loopback). Plain-text datagrams from other
tools are shown with the sender's address as the name. The group is left on exit.
When output is not a terminal and does not keep up (over --max-queue bytes waiting, 1 MiB by
default), messages are dropped, not buffered, and counted on stderr.`,
    )
    .action(
      action(async (opts: CommonOptions & { nick: string; linger: number; maxQueue: number }) => {
        const chat = await MulticastChat.open({
          group: opts.group,
          port: opts.port,
          interface: opts.interface,
          ttl: opts.ttl,
          loopback: opts.loopback,
          nick: opts.nick,
        });
        // anyone may send to the group, as fast as they like: a stderr that is not read drops the trace
        const trace = lossyStderr(opts.maxLogBacklog);
        if (opts.trace) printTrace(chat, 'client', trace);
        const where = `${formatHostPort(opts.group, opts.port)} (ttl ${opts.ttl}, loopback ${opts.loopback ? 'on' : 'off'}${opts.interface ? `, interface ${opts.interface}` : ''})`;
        if (opts.json) printJson({ event: 'joined', group: opts.group, port: opts.port, nick: chat.nick });
        else process.stderr.write(`joined ${where} as ${chat.nick}; Ctrl-D or Ctrl-C leaves\n`);

        // anyone may send to the group, as fast as they like: a stdout that is not read drops
        const out = lossyStdout(opts.maxQueue);
        let leaving = false;
        const leave = async () => {
          if (leaving) return;
          leaving = true;
          await chat.close();
          await out.report();
          await trace.report();
          if (opts.json) printJson({ event: 'left', group: opts.group, port: opts.port });
          else process.stderr.write(`left ${formatHostPort(opts.group, opts.port)}\n`);
        };
        const say = (text: string) => {
          if (text.length === 0 || leaving) return;
          chat.say(text).catch((err: Error) => process.stderr.write(`netkit: ${err.message}\n`));
        };
        onShutdown(leave);
        const exitAfterLinger = () => setTimeout(() => leave().then(() => process.exit(0)), opts.linger);

        if (process.stdin.isTTY && process.stdout.isTTY && !opts.json) {
          const term = createPrompt(`${chat.nick}> `, {
            line: say,
            end: () => void leave().then(() => process.exit(0)),
          });
          chat.on('message', (m: MulticastChatMessage) =>
            term.print(m.self ? dim(formatChat(m, false)) : formatChat(m, false)),
          );
        } else {
          chat.on('message', (m: MulticastChatMessage) =>
            out.print(() => process.stdout.write(`${formatChat(m, opts.json === true)}\n`)),
          );
          const rl = readline.createInterface({ input: process.stdin, terminal: false });
          rl.on('line', say);
          rl.on('close', exitAfterLinger);
        }
      }),
    );
}

function registerSend(group: Command): void {
  common(group.command('send'), { send: true, receive: false })
    .description('send datagrams to a multicast group (the argument, or one per stdin line)')
    .argument('[message]', 'text to send; without it, each stdin line is one datagram')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit multicast send "hello group"
  $ netkit multicast send --group 239.1.2.3 --port 6000 --ttl 4 "across 4 routers"
  $ printf 'one\\ntwo\\n' | netkit multicast send --interface 127.0.0.1`,
    )
    .action(
      action(async (message: string | undefined, opts: CommonOptions) => {
        const sock = await MulticastSocket.open({
          group: opts.group,
          port: opts.port,
          interface: opts.interface,
          ttl: opts.ttl,
          loopback: opts.loopback,
          receive: false,
        });
        if (opts.trace) printTrace(sock, 'client');
        try {
          if (message !== undefined) {
            await sock.send(message);
          } else {
            if (process.stdin.isTTY) throw usageError('give a MESSAGE or pipe lines on stdin');
            const rl = readline.createInterface({ input: process.stdin, terminal: false });
            for await (const line of rl) await sock.send(line);
          }
        } finally {
          await sock.close();
        }
      }),
    );
}

function registerListen(group: Command): void {
  common(group.command('listen'), { send: false, receive: true })
    .description('join a multicast group and print every datagram with its sender')
    .option('--json', 'one JSON line per datagram: {"from","size","text","hex"} (text null if not text)')
    .option('-c, --count <n>', 'leave after N datagrams', parsePositive)
    .addOption(maxQueueOption())
    .addOption(maxLogBacklogOption())
    .addHelpText(
      'after',
      `
Examples:
  $ netkit multicast listen                              group 239.255.0.1, port 5007
  $ netkit multicast listen --group 239.1.2.3 --port 6000 --json
  $ netkit multicast listen --interface 127.0.0.1 --count 1

When stdout does not keep up (over --max-queue bytes waiting, 1 MiB by default), datagrams are
dropped, not buffered, and counted on stderr.`,
    )
    .action(
      action(async (opts: CommonOptions & { count?: number; maxQueue: number }) => {
        const sock = await MulticastSocket.open({
          group: opts.group,
          port: opts.port,
          interface: opts.interface,
        });
        const trace = lossyStderr(opts.maxLogBacklog);
        if (opts.trace) printTrace(sock, 'client', trace);
        if (opts.json) printJson({ event: 'joined', group: opts.group, port: opts.port });
        else process.stderr.write(`listening on ${formatHostPort(opts.group, opts.port)}; Ctrl-C leaves\n`);
        let seen = 0;
        // anyone may send to the group, as fast as they like: a stdout that is not read drops
        const out = lossyStdout(opts.maxQueue);
        const leave = async () => {
          await sock.close();
          await out.report();
          await trace.report();
        };
        onShutdown(leave);
        const print = (d: MulticastDatagram): void => {
          const m = decodeChatDatagram(d);
          const from = formatHostPort(d.address, d.port);
          if (opts.json) {
            // as `udp listen --json`: the exact bytes in hex, the text when it is text
            const rec: Record<string, unknown> = {
              from,
              size: d.data.length,
              text: isPrintableText(d.data) ? d.data.toString('utf8') : null,
              hex: d.data.toString('hex'),
            };
            if (!m.plain) rec.chat = { nick: m.nick, text: m.text };
            printJson(rec);
          } else {
            process.stdout.write(`${from} ${m.plain ? m.text : `${m.nick}: ${m.text}`}\n`);
          }
        };
        sock.on('message', (d: MulticastDatagram) => {
          out.print(() => print(d));
          seen += 1;
          if (opts.count !== undefined && seen >= opts.count) leave().then(() => process.exit(0));
        });
      }),
    );
}

/** `netkit multicast chat|send|listen`. */
export function register(program: Command): void {
  const group = program.command('multicast').description('UDP multicast chat, send and listen');
  group.addHelpText(
    'after',
    `
Examples:
  $ netkit multicast chat --group 239.255.0.1 --port 5007 --ttl 1 --nick alice
  $ netkit multicast listen --json
  $ netkit multicast send "hello group"`,
  );
  registerChat(group);
  registerSend(group);
  registerListen(group);
}
