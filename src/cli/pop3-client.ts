/**
 * `netkit pop3 list|retr|dele|fetch`: thin layers over `Pop3Client` (src/mail/pop3-client.ts) and
 * `fetchMessages()` (src/mail/pop3-client-fetch.ts). Connection flags are shared; output formats
 * (table / JSON) live here.
 *
 * STLS policy: on a plaintext connection we upgrade with STLS whenever the server's CAPA offers it
 * (like `mail send` does with STARTTLS), `--stls` makes it mandatory, `--no-stls` never upgrades;
 * `--tls` is implicit TLS (POP3S). A server off this machine that offers no STLS gets no password
 * unless `--no-stls` asked for plaintext (someone on the path may have removed the offer).
 * Certificates are verified, the lab's own dev certificate in the
 * data directory is trusted automatically, `--insecure` turns verification off.
 *
 * `retr` streams the message to stdout or `--out FILE` as it arrives (`Pop3Client.retrStream`): any
 * size, bounded memory, the socket paused while stdout or the file is behind. Only `--json`, which
 * parses the message, holds it whole.
 */
import type { Readable } from 'node:stream';
import { type Command, Option } from 'commander';
import { formatHostPort, isLoopback } from '../core/address.js';
import { resolveDataDir, writeFileAtomic } from '../core/datadir.js';
import { cleartextPasswordRefused, NetkitError, usageError } from '../core/errors.js';
import { maxOf } from '../core/format.js';
import { terminalSafe, terminalSafeStream } from '../core/terminal-safe.js';
import { trustedCertificates } from '../core/tls-trust.js';
import { formatTrace } from '../core/trace.js';
import { writeStreamAtomic } from '../http/atomic-write.js';
import { parseMessage, viewToJson } from '../mail/message-view.js';
import {
  DEFAULT_MAX_LISTING_BYTES,
  DEFAULT_RETR_WINDOW,
  DEFAULT_RETR_WINDOW_BYTES,
  Pop3Client,
} from '../mail/pop3-client.js';
import { DEFAULT_SUMMARY_MAX_BYTES, type FetchedMessage, fetchMessages } from '../mail/pop3-client-fetch.js';
import { copyToStdout } from './stdout.js';
import {
  action,
  durationOption,
  formatBytes,
  interruptOnSignals,
  parseBytes,
  parseHostPort,
  parsePositive,
  printJson,
  readPassword,
} from './util.js';

interface ConnOpts {
  server?: string;
  user?: string;
  password?: string;
  tls?: boolean;
  stls?: boolean;
  insecure?: boolean;
  ca?: string;
  data?: string;
  auth: 'user' | 'plain';
  timeout: number;
  maxListingSize: number;
  json?: boolean;
  trace?: boolean;
}

function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option(
      '--server <host[:port]>',
      'POP3 server (default 127.0.0.1:1110; with --tls 127.0.0.1:1995; IPv6: [::1]:1110)',
    )
    .option('--user <name>', 'mailbox user (required)')
    .option('--password <pw>', 'password (else NETKIT_PASSWORD, else a prompt)')
    .option('--tls', 'implicit TLS (POP3S; default port 1995)')
    .option(
      '--stls',
      'require STLS (default: upgrade when the server offers it; a server off this machine that does not gets no password)',
    )
    .option('--no-stls', 'never upgrade with STLS (the password goes in the clear)')
    .addOption(
      new Option('--auth <method>', 'login method: user (USER/PASS) or plain (AUTH PLAIN)')
        .choices(['user', 'plain'])
        .default('user'),
    )
    .option('--insecure', "do not verify the server's TLS certificate (self-signed lab certs only)")
    .option('--ca <file>', 'also trust this PEM certificate')
    .option('--data <dir>', 'data directory whose lab certificate is trusted (default ./netkit-data)')
    .addOption(
      durationOption(
        '--timeout <duration>',
        'idle timeout: give up when the server sends nothing for this long (e.g. 500ms, 30s)',
        30_000,
      ),
    )
    .addOption(
      new Option(
        '--max-listing-size <size>',
        'refuse a CAPA, LIST or UIDL listing larger than SIZE (e.g. 64M)',
      )
        .argParser(parseBytes)
        .default(DEFAULT_MAX_LISTING_BYTES, `${DEFAULT_MAX_LISTING_BYTES / (1024 * 1024)}M`),
    )
    .option('--json', 'print JSON')
    .option('--trace', 'print the POP3 conversation on stderr (PASS redacted)');
}

/** `--server`, its port defaulting to POP3's (1110 here; 1995 with --tls, implicit TLS). */
export function pop3Address(opts: { server?: string; tls?: boolean }): { host: string; port: number } {
  return parseHostPort(opts.server ?? '127.0.0.1', opts.tls ? 1995 : 1110);
}

/** Connect, upgrade per the STLS policy, log in. */
async function openSession(opts: ConnOpts): Promise<Pop3Client> {
  if (!opts.user) throw usageError('--user is required');
  if (opts.tls && opts.stls === true) throw usageError('--tls and --stls contradict each other');
  const { host, port } = pop3Address(opts);
  const password = await readPassword(opts.password);
  const ca = opts.insecure ? undefined : await trustedCertificates(resolveDataDir(opts.data), opts.ca);
  const client = await Pop3Client.connect({
    host,
    port,
    tls: opts.tls === true,
    timeout: opts.timeout,
    maxListingBytes: opts.maxListingSize,
    rejectUnauthorized: !opts.insecure,
    ca,
    onTrace: opts.trace ? (ev) => process.stderr.write(`${formatTrace(ev, 'client')}\n`) : undefined,
  });
  try {
    if (!opts.tls && opts.stls !== false) {
      const caps = await client.capabilitiesOrEmpty();
      if ('STLS' in caps) await client.stls();
      else if (opts.stls === true)
        throw new NetkitError('NETKIT_PROTOCOL', `${formatHostPort(host, port)} does not offer STLS`);
      else if (!isLoopback(host))
        throw cleartextPasswordRefused(formatHostPort(host, port), 'STLS', '--no-stls');
    }
    await client.login(opts.user, password, { method: opts.auth });
    return client;
  } catch (err) {
    client.close();
    throw err;
  }
}

const MIB = 1024 * 1024;

function parseMsgNumber(v: string): number {
  return parsePositive(v);
}

function table(rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = rows[0]!.map((_, i) => maxOf(rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) =>
          i === r.length - 1 ? c : align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * One line per character cell: no control, C1 or bidi/zero-width character from a hostile message
 * reaches the terminal (they are shown escaped, see core/terminal-safe.ts).
 */
function cell(s: string | undefined, max = 40): string {
  const t = terminalSafe(s ?? '');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** `2026-11-23T02:19:33.000Z` → `2026-11-23 02:19:33Z` (a Date header that did not parse stays as is). */
function shortDate(d: string | undefined): string {
  return cell(d?.replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z$/, '$1 $2Z'), 24);
}

/**
 * Copy a message to stdout as it arrives (escaped on a terminal), waiting for stdout when it is
 * full, which holds the socket through the Readable's backpressure. A reader that goes away
 * (`| head`) ends it quietly, as curl does: resolves false then.
 */
async function messageToStdout(body: Readable): Promise<boolean> {
  // a terminal gets the message with the sender's control characters escaped (an ESC in a
  // Subject would retitle or clear it); a pipe or file gets the exact bytes
  const escaper = process.stdout.isTTY ? terminalSafeStream() : undefined;
  const pieces = escaper
    ? (async function* () {
        for await (const piece of body as AsyncIterable<Buffer>) yield escaper.write(piece);
        yield escaper.end();
      })()
    : (body as AsyncIterable<Buffer>);
  const copied = await copyToStdout(pieces);
  if (!copied) body.destroy();
  return copied;
}

/**
 * A fetch that broke off (before QUIT, so the server deletes nothing): its error, and what the
 * user is left with — how many messages were saved, each whole (the one in transfer left no file).
 */
function interruptedFetch(err: unknown, saved: number, opts: { out: string; delete?: boolean }): unknown {
  if (!(err instanceof NetkitError)) return err;
  const kept = saved ? `${saved} message(s) saved into ${opts.out} before that` : 'no message saved';
  const deleted = opts.delete ? ', none deleted on the server' : '';
  return new NetkitError(err.code, `${err.message}; ${kept}${deleted}`, { cause: err });
}

function printFetchSummary(messages: FetchedMessage[]): void {
  const rows = [['#', 'FROM', 'SUBJECT', 'DATE', 'SIZE', 'ATTACHMENTS']];
  for (const m of messages) {
    const att = m.attachments.map((a) => a.filename ?? a.mimeType).join(', ');
    rows.push([
      String(m.n),
      cell(m.from, 30),
      cell(m.subject, 40),
      shortDate(m.date),
      formatBytes(m.size),
      m.headerOnly
        ? '? (not parsed)'
        : m.attachments.length
          ? `${m.attachments.length}: ${cell(att, 50)}`
          : '-',
    ]);
  }
  process.stdout.write(`${table(rows, ['r', 'l', 'l', 'l', 'r', 'l'])}\n`);
}

export function register(group: Command): void {
  addConnectionOptions(
    group
      .command('list')
      .description(
        'list the messages in a POP3 mailbox (number, size, UID; --headers adds From/Subject/Date)',
      )
      .option('--headers', 'also fetch From, Subject and Date (TOP n 0)'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit pop3 list --user bob --password secret
  $ NETKIT_PASSWORD=secret netkit pop3 list --user bob --headers
  $ netkit pop3 list --server mail.example.org:995 --tls --user me --json
  $ netkit pop3 list --user bob --password secret --trace`,
    )
    .action(
      action(async (opts: ConnOpts & { headers?: boolean }) => {
        const c = await openSession(opts);
        try {
          const list = await c.list();
          const uids = await c.uidl().catch(() => []);
          const uidOf = new Map(uids.map((u) => [u.n, u.uid]));
          const heads = new Map<number, { from?: string; subject?: string; date?: string }>();
          if (opts.headers) {
            for (const m of list) {
              const v = await parseMessage(await c.top(m.n, 0));
              heads.set(m.n, { from: v.from, subject: v.subject, date: v.date });
            }
          }
          await c.quit();
          const records = list.map((m) => ({ n: m.n, size: m.size, uid: uidOf.get(m.n), ...heads.get(m.n) }));
          if (opts.json) {
            printJson({ count: list.length, size: list.reduce((a, m) => a + m.size, 0), messages: records });
            return;
          }
          if (!records.length) {
            process.stdout.write('no messages\n');
            return;
          }
          const rows = [
            opts.headers ? ['#', 'SIZE', 'UID', 'FROM', 'SUBJECT', 'DATE'] : ['#', 'SIZE', 'UID'],
          ];
          for (const r of records) {
            const base = [String(r.n), formatBytes(r.size), cell(r.uid, 70)];
            rows.push(
              opts.headers ? [...base, cell(r.from, 30), cell(r.subject, 40), shortDate(r.date)] : base,
            );
          }
          process.stdout.write(`${table(rows, ['r', 'r', 'l', 'l', 'l', 'l'])}\n`);
        } finally {
          c.close();
        }
      }),
    );

  addConnectionOptions(
    group
      .command('retr')
      .description(
        'retrieve one message: raw RFC 5322 bytes streamed to stdout (or --out FILE, or --json parsed)',
      )
      .argument('<n>', 'message number', parseMsgNumber)
      .option('--out <file>', 'write the message to a file instead of stdout'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit pop3 retr 1 --user bob --password secret > message.eml
  $ netkit pop3 retr 1 --user bob --password secret | netkit mail show -
  (on a terminal, control characters are shown escaped: \\x1b)
  $ netkit pop3 retr 2 --user bob --password secret --json | jq .subject

The message is written as it arrives, in bounded memory whatever its size; --out FILE is replaced
only once the whole message is in it (and fsynced). --json parses the message, so it holds it in
memory (up to 256 MiB).`,
    )
    .action(
      action(async (n: number, opts: ConnOpts & { out?: string }) => {
        const c = await openSession(opts);
        try {
          if (opts.json) {
            const msg = await c.retr(n);
            await c.quit();
            if (opts.out) await writeFileAtomic(opts.out, msg, 0o600);
            printJson({ n, ...viewToJson(await parseMessage(msg)) });
          } else if (opts.out) {
            // Ctrl-C: the message stops, and its temp file goes with it (FILE stays as it was)
            const interrupt = interruptOnSignals();
            const message = c.retrStream(n);
            // destroyed without an error: one given would be an unhandled 'error' event whenever the
            // write has not taken up the stream yet; the write fails on the early close all the same
            interrupt.signal.addEventListener('abort', () => message.destroy());
            let bytes: number;
            try {
              bytes = await writeStreamAtomic(message, opts.out, 0o600);
            } catch (err) {
              throw interrupt.error ?? err;
            } finally {
              interrupt.dispose();
            }
            await c.quit();
            process.stdout.write(`saved message ${n} (${formatBytes(bytes)}) to ${opts.out}\n`);
          } else if (await messageToStdout(c.retrStream(n))) await c.quit();
        } finally {
          c.close();
        }
      }),
    );

  addConnectionOptions(
    group
      .command('dele')
      .description('delete messages (marked with DELE, removed by the server at QUIT)')
      .argument('<n...>', 'message numbers', (v: string, prev: number[] = []) => [
        ...prev,
        parseMsgNumber(v),
      ]),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit pop3 dele 1 --user bob --password secret
  $ netkit pop3 dele 2 3 5 --user bob --password secret --json`,
    )
    .action(
      action(async (numbers: number[], opts: ConnOpts) => {
        const c = await openSession(opts);
        try {
          try {
            for (const n of numbers) await c.dele(n);
          } catch (err) {
            // no QUIT follows, so the server deletes none of them (RFC 1939 §6): say so, or
            // `dele 1 99` leaves the user guessing about #1
            if (!(err instanceof NetkitError)) throw err;
            throw new NetkitError(err.code, `${err.message}; nothing was deleted`, { cause: err });
          }
          await c.quit(); // the deletions happen now (UPDATE state)
        } finally {
          c.close();
        }
        if (opts.json) printJson({ deleted: numbers });
        else process.stdout.write(`deleted ${numbers.map((n) => `#${n}`).join(', ')}\n`);
      }),
    );

  addConnectionOptions(
    group
      .command('fetch')
      .description('download messages into a directory (.eml files or a Maildir), optionally deleting them')
      .requiredOption('--out <dir>', 'destination directory')
      .option('--maildir', 'store as a Maildir (DIR/tmp, new, cur) instead of .eml files')
      .option(
        '--new-only',
        'only messages not fetched before (by UIDL; state in DIR/.netkit-pop3-state.json)',
      )
      .option('--delete', 'delete each message from the server after a verified save')
      .option(
        '--window <n>',
        'RETRs outstanding at once when the server offers PIPELINING (1 = one at a time)',
        parsePositive,
        DEFAULT_RETR_WINDOW,
      )
      .addOption(
        new Option(
          '--max-parse-size <size>',
          'summarise messages up to SIZE parsed whole (attachments), e.g. 64M; larger ones from their header (0 = headers only)',
        )
          .argParser(parseBytes)
          .default(DEFAULT_SUMMARY_MAX_BYTES, `${DEFAULT_SUMMARY_MAX_BYTES / MIB}M`),
      ),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ netkit pop3 fetch --user bob --password secret --out ./inbox
  $ netkit pop3 fetch --user bob --out ./Maildir --maildir --new-only
  $ netkit pop3 fetch --user bob --out ./inbox --delete --json
  $ netkit pop3 fetch --user bob --out ./inbox --window 1        one RETR at a time
  $ netkit pop3 fetch --user bob --out ./inbox --max-parse-size 64M

Each message is streamed to its file. When the server offers PIPELINING, up to --window RETRs
are outstanding at once (fewer while their LIST sizes add up to over ${DEFAULT_RETR_WINDOW_BYTES / MIB} MiB, at least one); without
it, one. The summary holds a message up to --max-parse-size in memory and parses it whole; of a
larger one only the header is read, and ATTACHMENTS shows "? (not parsed)".

--delete marks a message only after it is on disk: fsynced, its size equal to the server's LIST size.
The server removes marked messages at QUIT; an interrupted fetch deletes nothing. With --new-only, a
message an interrupted run saved but could not delete is deleted by the next run, once its saved copy
is found unchanged.`,
    )
    .action(
      action(
        async (
          opts: ConnOpts & {
            out: string;
            maildir?: boolean;
            newOnly?: boolean;
            delete?: boolean;
            window: number;
            maxParseSize: number;
          },
        ) => {
          const c = await openSession(opts);
          let result: Awaited<ReturnType<typeof fetchMessages>>;
          let saved = 0;
          try {
            const { host, port } = pop3Address(opts);
            result = await fetchMessages(c, {
              out: opts.out,
              format: opts.maildir ? 'maildir' : 'eml',
              newOnly: opts.newOnly === true,
              delete: opts.delete === true,
              account: `${opts.user}@${host}:${port}`,
              window: opts.window,
              summaryMaxBytes: opts.maxParseSize,
              onMessage: () => saved++,
            }).catch((err) => {
              throw interruptedFetch(err, saved, opts);
            });
            await c.quit();
          } finally {
            c.close();
          }
          if (opts.json) {
            printJson(result);
            return;
          }
          const deleted = result.messages.filter((m) => m.deleted).length;
          const earlier = result.earlier.filter((m) => m.deleted).length;
          if (result.messages.length) printFetchSummary(result.messages);
          for (const m of result.messages)
            if (m.warning) process.stderr.write(`netkit: message ${m.n} kept on the server: ${m.warning}\n`);
          for (const m of result.earlier)
            if (m.warning)
              process.stderr.write(
                `netkit: message ${m.n} (fetched earlier) kept on the server: ${m.warning}\n`,
              );
          process.stdout.write(
            `fetched ${result.messages.length} of ${result.total} message(s) into ${opts.out}` +
              `${result.skipped ? `, ${result.skipped} already fetched` : ''}` +
              `${opts.delete ? `, ${deleted} deleted on the server` : ''}` +
              `${earlier ? ` (and ${earlier} fetched earlier whose deletion was lost)` : ''}\n`,
          );
          if (result.messages.some((m) => m.warning)) process.exitCode = 1;
        },
      ),
    );
}
