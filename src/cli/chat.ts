/**
 * `netkit chat serve|join`: the CLI over `createChatServer` and `ChatClient`. The only logic here is
 * presentation: the server's event log, and the client's prompt that keeps what the user is typing
 * intact while lines arrive (clear the prompt rows, print the line, redraw prompt and input).
 */
import readline from 'node:readline';
import { type Command, Option } from 'commander';
import { resolveDataDir } from '../core/datadir.js';
import { usageError } from '../core/errors.js';
import { trustedCertificates } from '../core/tls-trust.js';
import { ChatClient } from '../sockets/chat-client.js';
import { CHAT_DEFAULTS, type ChatServer, createChatServer } from '../sockets/chat-server.js';
import { createPrompt } from './chat-prompt.js';
import { serveTlsMaterial } from './serve-tls.js';
import { type LossyOutput, maxLogBacklogOption, serverLog } from './stdout.js';
import {
  action,
  announceListening,
  bytesOption,
  collect,
  dim,
  durationOption,
  onShutdown,
  parseHostPort,
  parseNonNegative,
  parsePort,
  parsePositive,
  parsePositiveBytes,
  printJson,
  printTrace,
} from './util.js';

export const DEFAULT_CHAT_PORT = 7070;

interface ServeOptions {
  host: string;
  port: number;
  tls?: boolean;
  tlsPort?: number;
  cert?: string;
  key?: string;
  handshakeTimeout: number;
  json?: boolean;
  trace?: boolean;
  quiet?: boolean;
  maxClients: number;
  maxPerIp: number;
  idleTimeout: number;
  maxLine: number;
  maxQueue: number;
  maxLogBacklog: number;
  rate: number;
  burst: number;
  history: number;
  room: string;
  motd: string[];
  data?: string;
}

/**
 * The server's console log: one line per event, human or JSON. Past --max-log-backlog left unread
 * on stdout (a paused pager, a slow pipe) lines are dropped and counted on stderr: the room cannot
 * be slowed down for its log.
 */
function logEvents(server: ChatServer, json: boolean, stdout: LossyOutput): void {
  const time = () => new Date().toTimeString().slice(0, 8);
  const out = (rec: Record<string, unknown>, human: string) =>
    stdout.print(() => {
      if (json) printJson({ ts: Date.now(), ...rec });
      else process.stdout.write(`${dim(time())} ${human}\n`);
    });
  server.on('join', (e) => out({ event: 'join', ...e }, `#${e.room} ${e.nick} joined`));
  server.on('leave', (e) => out({ event: 'leave', ...e }, `#${e.room} ${e.nick} left (${e.reason})`));
  server.on('nick', (e) => out({ event: 'nick', ...e }, `#${e.room} ${e.old} is now ${e.nick}`));
  server.on('message', (m) =>
    out(
      { event: 'message', room: m.room, nick: m.nick, kind: m.kind, text: m.text },
      `#${m.room} ${m.kind === 'me' ? `* ${m.nick} ${m.text}` : `<${m.nick}> ${m.text}`}`,
    ),
  );
}

function registerServe(chat: Command): void {
  chat
    .command('serve')
    .description('run the chat server (usable with nc, telnet, ncat and `netkit chat join`)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', parsePort, DEFAULT_CHAT_PORT)
    .option('--tls-port <port>', 'also listen with implicit TLS on this port (same rooms)', parsePort)
    .option('--tls', 'the main --port speaks TLS only (like ncat --ssl -l --chat)')
    .option('--cert <file>', 'TLS certificate (PEM; default: a self-signed dev certificate in DATA/tls)')
    .option('--key <file>', 'TLS private key (PEM), with --cert')
    .addOption(
      durationOption(
        '--handshake-timeout <duration>',
        'drop a TLS client that has not finished its handshake by then (0 = only --idle-timeout)',
        CHAT_DEFAULTS.tlsHandshakeTimeoutMs,
      ),
    )
    .option('--json', 'print the listening addresses and the event log as JSON lines')
    .option('--trace', 'print every line in and out on stderr (C: / S:)')
    .option('-q, --quiet', 'do not print the event log (joins, leaves, messages)')
    .option(
      '--max-clients <n>',
      'connections at most, both ports together',
      parsePositive,
      CHAT_DEFAULTS.maxClients,
    )
    .option(
      '--max-per-ip <n>',
      'connections per client address, both ports together',
      parsePositive,
      CHAT_DEFAULTS.maxClientsPerIp,
    )
    .addOption(
      durationOption(
        '--idle-timeout <duration>',
        'disconnect clients silent this long (0 = never)',
        CHAT_DEFAULTS.idleTimeoutMs,
      ),
    )
    .addOption(
      new Option('--max-line <bytes>', 'longest line accepted, e.g. 1024, 4k')
        .argParser(parsePositiveBytes)
        .default(CHAT_DEFAULTS.maxLineLength),
    )
    .addOption(
      bytesOption(
        '--max-queue <bytes>',
        'drop a client whose unread output passes this size',
        CHAT_DEFAULTS.maxOutboundBytes,
      ),
    )
    .addOption(maxLogBacklogOption())
    .option(
      '--rate <lines>',
      'lines per second per client after the burst (0 = no limit)',
      parseNonNegative,
      5,
    )
    .option('--burst <lines>', 'lines a client may send at once', parsePositive, 20)
    .option(
      '--history <n>',
      'messages per room replayed on join (0 = none)',
      parseNonNegative,
      CHAT_DEFAULTS.historySize,
    )
    .option('--room <name>', 'the room everyone starts in', CHAT_DEFAULTS.defaultRoom)
    .option('--motd <text>', 'an extra banner line (repeatable)', collect, [])
    .option(
      '--data <dir>',
      'persist history in DIR/chat/history.jsonl; TLS dev certificate in DIR/tls (default ./netkit-data)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit chat serve                          listen on 127.0.0.1:7070
  $ nc 127.0.0.1 7070                          chat from another terminal (or telnet / ncat)
  $ netkit chat serve --port 0 --json          any free port; JSON address line and event log
  $ netkit chat serve --data ./netkit-data --history 50 --motd "Be nice."
  $ netkit chat serve --host 0.0.0.0 --max-clients 200 --rate 2 --burst 10 --trace
  $ netkit chat serve --tls-port 7443          plain 7070 and TLS 7443, one set of rooms
  chat listening on 127.0.0.1:7070
  chat listening on 127.0.0.1:7443 (tls)
  $ ncat --ssl 127.0.0.1 7443                  join over TLS (or: netkit chat join --tls)
  $ netkit chat serve --tls --port 7443 --cert cert.pem --key key.pem    TLS only

Without --cert/--key, TLS uses a self-signed certificate made on first use in
DATA/tls/dev-cert.pem (give it to clients: ncat --ssl-verify --ssl-trustfile FILE).
Connection limits count both ports together.

Commands users can type: /nick /join /rooms /who /msg /me /quit /help`,
    )
    .action(
      action(async (opts: ServeOptions) => {
        const tls = await serveTlsMaterial(opts, {
          main: 'speak TLS',
          extra: 'a TLS port beside a plain one',
        });
        const server = await createChatServer({
          host: opts.host,
          port: opts.port,
          tlsPort: opts.tlsPort,
          tlsOnly: opts.tls === true,
          tls,
          tlsHandshakeTimeoutMs: opts.handshakeTimeout,
          maxClients: opts.maxClients,
          maxClientsPerIp: opts.maxPerIp,
          idleTimeoutMs: opts.idleTimeout,
          maxLineLength: opts.maxLine,
          maxOutboundBytes: opts.maxQueue,
          rateLimit: { perSecond: opts.rate, burst: opts.burst },
          historySize: opts.history,
          defaultRoom: opts.room,
          motd: opts.motd,
          dataDir: opts.data,
        });
        const log = serverLog(opts.maxLogBacklog);
        onShutdown(() => server.close().then(log.report));
        for (const a of server.addresses) announceListening('chat', a, { json: opts.json, tls: a.tls });
        if (opts.trace) printTrace(server, 'server', log.err);
        if (!opts.quiet) logEvents(server, opts.json === true, log.log);
      }),
    );
}

interface JoinOptions {
  nick?: string;
  tls?: boolean;
  insecure?: boolean;
  ca?: string;
  servername?: string;
  data?: string;
  trace?: boolean;
  greetingTimeout: number;
  connectTimeout: number;
}

/** A terminal: incoming lines print above the prompt; Ctrl-D / Ctrl-C quit politely. */
function interactive(client: ChatClient, nick: string | undefined): void {
  let quitting = false;
  const quit = () => {
    if (quitting) return;
    quitting = true;
    if (client.netkit) client.send('/quit');
    client.end();
  };
  const term = createPrompt(`${nick ?? 'you'}> `, {
    line(text) {
      if (text.length > 0) client.send(text);
    },
    end: quit,
  });
  client.on('line', (line: string) => {
    const renamed = /^\*\*\* You (?:are now known as|are) ([A-Za-z][\w-]*)/.exec(line);
    if (renamed && client.netkit) term.setPrompt(`${renamed[1]}> `);
    term.print(line);
  });
  client.on('close', () => {
    term.close();
    process.stderr.write('*** connection closed\n');
    process.exit(0);
  });
}

/** stdin is a pipe or file: send its lines, print what arrives, half-close at EOF. */
function piped(client: ChatClient): void {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => client.send(line));
  rl.on('close', () => client.end());
  // a stdout nobody reads (a stuck pipe) pauses the socket, as tcp connect does: a flood from the
  // server then waits in the kernel's buffers and the server's, not in our memory
  client.on('line', (line: string) => {
    if (!process.stdout.write(`${line}\n`) && !client.socket.isPaused()) {
      client.socket.pause();
      process.stdout.once('drain', () => client.socket.resume());
    }
  });
  client.on('close', () => {
    rl.close();
    process.exitCode = 0;
    // let stdout drain before leaving
    process.stdout.write('', () => process.exit(0));
  });
}

function registerJoin(chat: Command): void {
  chat
    .command('join')
    .description('join a chat server (ours, or any line relay such as ncat --chat)')
    .argument('<host:port>', `server address (port defaults to ${DEFAULT_CHAT_PORT})`)
    .option('-n, --nick <name>', 'nickname to take on a netkit server')
    .option('--tls', 'implicit TLS (like ncat --ssl); the certificate is verified')
    .option('-k, --insecure', "do not verify the server's TLS certificate (throwaway self-signed ones)")
    .option('--ca <file>', "also trust this PEM certificate (e.g. the server's self-signed one)")
    .option('--servername <name>', 'the name the certificate must carry, sent as SNI (default: the host)')
    .option('--data <dir>', 'data directory whose lab certificate is trusted (default ./netkit-data)')
    .option('--trace', 'print the lines sent and received on stderr (C: / S:)')
    .addOption(
      durationOption(
        '--greeting-timeout <duration>',
        "wait this long for the server's banner before sending",
        1000,
      ),
    )
    .addOption(durationOption('--connect-timeout <duration>', 'give up connecting after this long', 10_000))
    .addHelpText(
      'after',
      `
With --tls the server's certificate must be valid for the host (or --servername) and
signed by a system CA, the --ca file, or be the lab's own in --data DIR/tls; a
certificate that is not trusted is a one-line error (exit 1). --insecure skips this.

Incoming lines are printed above your prompt; what you are typing stays intact.
With stdin not a terminal, lines are sent as they are read; at end of input the
client half-closes and prints what arrives until the server closes.

Examples:
  $ netkit chat join 127.0.0.1:7070 --nick alice     interactive prompt
  $ netkit chat join localhost --nick bob            port 7070 by default
  $ echo "hello from a script" | netkit chat join 127.0.0.1:7070 --nick bot
  $ netkit chat join 127.0.0.1:9999                  against ncat -l --chat 9999
  $ netkit chat join --tls 127.0.0.1:7443 --nick carol          TLS; trusts ./netkit-data's cert
  $ netkit chat join --tls chat.example.org:7443 --ca cert.pem  against ncat --ssl -l --chat
  $ netkit chat join --tls 10.0.0.5:7443 --servername chat.example.org`,
    )
    .action(
      action(async (address: string, opts: JoinOptions) => {
        const { host, port } = parseHostPort(address, DEFAULT_CHAT_PORT);
        const tlsFlags = opts.insecure || opts.ca || opts.servername;
        if (tlsFlags && !opts.tls) throw usageError('--insecure, --ca and --servername need --tls');
        const verify = opts.tls === true && !opts.insecure;
        const ca = verify ? await trustedCertificates(resolveDataDir(opts.data), opts.ca) : undefined;
        const client = await ChatClient.connect({
          host,
          port,
          tls: opts.tls === true,
          rejectUnauthorized: !opts.insecure,
          ca,
          servername: opts.servername,
          nick: opts.nick,
          greetingTimeoutMs: opts.greetingTimeout,
          connectTimeoutMs: opts.connectTimeout,
        });
        if (opts.trace) printTrace(client, 'client');
        client.once('ready', (netkit: boolean) => {
          if (!netkit && opts.nick)
            process.stderr.write('netkit: not a netkit chat server; --nick was not sent\n');
        });
        if (process.stdin.isTTY && process.stdout.isTTY) interactive(client, opts.nick);
        else piped(client);
      }),
    );
}

/** `netkit chat serve|join`. */
export function register(program: Command): void {
  const chat = program.command('chat').description('multi-client TCP line chat server and client');
  chat.addHelpText(
    'after',
    `
Examples:
  $ netkit chat serve --port 7070
  $ nc 127.0.0.1 7070
  $ netkit chat join 127.0.0.1:7070 --nick alice`,
  );
  registerServe(chat);
  registerJoin(chat);
}
