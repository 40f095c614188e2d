/**
 * `netkit mail send` and `netkit mail show`: thin layers over `sendMail()` (src/mail/send.ts),
 * `sendRawMail()` for `--raw FILE` (src/mail/send-raw.ts) and `parseMessage()` / `saveAttachments()`
 * (src/mail/message-view.ts). Output formats live here.
 */
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { resolveDataDir } from '../core/datadir.js';
import { NetkitError, systemErrorWords, usageError } from '../core/errors.js';
import { maxOf } from '../core/format.js';
import { terminalSafe } from '../core/terminal-safe.js';
import { trustedCertificates } from '../core/tls-trust.js';
import { formatTrace, type TraceEvent } from '../core/trace.js';
import { type MessageView, parseMessage, saveAttachments, viewToJson } from '../mail/message-view.js';
import { type SendMailResult, sendMail } from '../mail/send.js';
import { type SendRawMailResult, sendRawMail } from '../mail/send-raw.js';
import {
  action,
  bold,
  collect,
  durationOption,
  formatBytes,
  parseHostPort,
  printJson,
  readPassword,
} from './util.js';

interface SendOpts {
  from?: string;
  to?: string[];
  cc?: string[];
  bcc?: string[];
  replyTo?: string;
  subject?: string;
  text?: string;
  textFile?: string;
  html?: string;
  htmlFile?: string;
  attach?: string[];
  inline?: string[];
  header?: string[];
  raw?: string;
  server?: string;
  tls?: boolean;
  starttls?: boolean;
  user?: string;
  password?: string;
  insecure?: boolean;
  ca?: string;
  data?: string;
  ehlo?: string;
  timeout?: number;
  dryRun?: boolean;
  json?: boolean;
  trace?: boolean;
}

/** The options that compose a message, which a prepared one (`--raw`) already is. */
const COMPOSING = [
  'subject',
  'text',
  'textFile',
  'html',
  'htmlFile',
  'attach',
  'inline',
  'header',
  'replyTo',
];

function printSendResult(r: SendMailResult | SendRawMailResult, opts: SendOpts): void {
  const raw = 'added' in r ? r : undefined;
  if (opts.json) {
    const rec: Record<string, unknown> = {
      dryRun: r.dryRun,
      messageId: r.messageId,
      envelope: r.envelope,
      size: r.message.length,
      cids: r.cids,
    };
    // what --raw changed in the message, and whether its body needs 8BITMIME
    if (raw) Object.assign(rec, { added: raw.added, removed: raw.removed, eightBitBody: raw.eightBitBody });
    // the address that makes the message need SMTPUTF8 (RFC 6531), so a dry run already tells
    if (r.smtpUtf8) rec.smtputf8 = r.smtpUtf8;
    if (r.dryRun) rec.message = r.message.toString('utf8');
    else Object.assign(rec, { accepted: r.accepted, rejected: r.rejected, response: r.response });
    printJson(rec);
    return;
  }
  if (r.dryRun) {
    process.stdout.write(r.message);
    for (const c of r.cids) process.stderr.write(`inline ${c.filename}: cid:${c.cid}\n`);
    return;
  }
  process.stdout.write(
    `sent ${r.messageId} (${formatBytes(r.message.length)}) to ${r.accepted.join(', ')}\n`,
  );
  if (raw && (raw.removed.length || raw.added.length)) {
    const changes = [];
    if (raw.removed.length) changes.push(`removed ${raw.removed.join(', ')}`);
    if (raw.added.length) changes.push(`added ${raw.added.join(', ')}`);
    process.stdout.write(`headers: ${changes.join('; ')}\n`);
  }
  if (r.rejected.length) process.stdout.write(`rejected: ${r.rejected.join(', ')}\n`);
  if (r.response) process.stdout.write(`server: ${r.response}\n`);
  for (const c of r.cids) process.stdout.write(`inline ${c.filename}: cid:${c.cid}\n`);
}

/**
 * Terminal safety (see core/terminal-safe.ts): one-line values, and bodies that keep their line
 * breaks. A header's tabs are whitespace (folding leaves one where the line broke): shown as a space.
 */
const printable = (s: string): string => terminalSafe(s.replace(/\t/g, ' '));
const printableBody = (s: string): string => terminalSafe(s, { multiline: true });

function printView(v: MessageView, allHeaders: boolean): void {
  const out: string[] = [];
  const field = (k: string, val: string | undefined) => {
    if (val) out.push(`${bold(`${k}:`.padEnd(12))}${printable(val)}`);
  };
  if (allHeaders) {
    for (const h of v.headers) out.push(`${bold(`${printable(h.name)}:`)} ${printable(h.value)}`);
  } else {
    field('From', v.from);
    field('To', v.to.join(', '));
    field('Cc', v.cc.join(', '));
    field('Reply-To', v.replyTo.join(', '));
    field('Subject', v.subject);
    field('Date', v.date);
    field('Message-ID', v.messageId);
  }
  out.push(`${bold('Size:'.padEnd(12))}${formatBytes(v.size)}`);
  if (v.text !== undefined)
    out.push('', bold('--- text/plain ---'), printableBody(v.text).replace(/\n+$/, ''));
  if (v.html !== undefined)
    out.push('', bold('--- text/html ---'), printableBody(v.html).replace(/\n+$/, ''));
  if (v.attachments.length) {
    out.push('', bold(`--- attachments (${v.attachments.length}) ---`));
    const width = maxOf(v.attachments.map((a) => printable(a.filename ?? '(no name)').length));
    v.attachments.forEach((a, i) => {
      const name = printable(a.filename ?? '(no name)').padEnd(width);
      const cid = a.contentId ? `  inline cid:${printable(a.contentId)}` : '';
      out.push(
        `${String(i + 1).padStart(3)}  ${name}  ${printable(a.mimeType).padEnd(24)} ${formatBytes(a.size).padStart(9)}${cid}`,
      );
    });
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function readInput(file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(file);
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `${file}: ${systemErrorWords(err)}`, { cause: err });
  }
}

/**
 * `--tls` and `--no-tls` set the same value (the last one wins in commander), so `.conflicts()`
 * cannot see both: note each as it is parsed and refuse the pair, like commander refuses a conflict.
 */
function refuseBoth(cmd: Command, a: string, b: string): void {
  const seen = new Set<string>();
  const note = (flag: string) => () => {
    seen.add(flag);
    if (seen.has(a) && seen.has(b))
      cmd.error(`error: option '${a}' cannot be used with option '${b}'`, {
        code: 'commander.conflictingOption',
        exitCode: 2,
      });
  };
  cmd.on(`option:${a.slice(2)}`, note(a));
  cmd.on(`option:${b.slice(2)}`, note(b));
}

/** `--server`, its port defaulting to SMTP's (2525 here; 4650 with --tls, implicit TLS). */
export function smtpAddress(opts: { server?: string; tls?: boolean }): { host: string; port: number } {
  return parseHostPort(opts.server ?? '127.0.0.1', opts.tls === true ? 4650 : 2525);
}

export function register(group: Command): void {
  const send = group.command('send');
  refuseBoth(send, '--tls', '--no-tls');
  send
    .description(
      'compose a message with full MIME and submit it over SMTP (nodemailer), or send a prepared one (--raw)',
    )
    .option('--from <addr>', 'sender (default USER@localhost; with --raw: the Sender or From header)')
    .option('--to <addr>', 'recipient (repeatable)', collect)
    .option('--cc <addr>', 'copy recipient (repeatable)', collect)
    .option('--bcc <addr>', 'blind copy: in the envelope only, never in the headers (repeatable)', collect)
    .option('--reply-to <addr>', 'Reply-To address')
    .option('--subject <text>', 'subject (UTF-8; encoded per RFC 2047)')
    .option('--text <text>', 'plain-text body')
    .option('--text-file <file>', 'plain-text body from a UTF-8 file')
    .option('--html <html>', 'HTML body (with text: multipart/alternative)')
    .option('--html-file <file>', 'HTML body from a UTF-8 file')
    .option('--attach <file>', 'attach a file; type from its extension (repeatable)', collect)
    .option('--inline <[cid=]file>', 'image for the HTML as cid:NAME; prints the cid (repeatable)', collect)
    .option('--header <"K: V">', 'extra header (repeatable)', collect)
    .addOption(
      new Option(
        '--raw <file>',
        'send a prepared RFC 5322 message as it is (- for stdin); see below',
      ).conflicts(COMPOSING),
    )
    .option(
      '--server <host[:port]>',
      'SMTP server (default 127.0.0.1:2525; with --tls 127.0.0.1:4650; IPv6: [::1]:2525)',
    )
    .option('--tls', 'implicit TLS (SMTPS; default port 4650)')
    .option('--no-tls', 'never use STARTTLS (default: STARTTLS when the server offers it)')
    .addOption(new Option('--starttls', 'require STARTTLS (fail if not offered)').conflicts('tls'))
    .option('--user <name>', 'authenticate (AUTH PLAIN/LOGIN); nothing is sent if the server offers no AUTH')
    .option('--password <pw>', 'password (else NETKIT_PASSWORD, else a prompt)')
    .option('--insecure', "do not verify the server's TLS certificate (self-signed lab certs only)")
    .option('--ca <file>', 'also trust this PEM certificate')
    .option('--data <dir>', 'data directory whose lab certificate is trusted (default ./netkit-data)')
    .option(
      '--ehlo <name>',
      "name sent in EHLO (default: this machine's FQDN, else our address: [127.0.0.1], [IPv6:::1])",
    )
    .addOption(durationOption('--timeout <duration>', 'per-phase timeout (e.g. 500ms, 30s)', 30_000))
    .option('--dry-run', 'print the RFC 5322 message instead of sending it')
    .option('--json', 'print the result as JSON')
    .option('--trace', 'print the SMTP conversation on stderr (AUTH redacted)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit mail send --to bob@lab --subject hi --text hello
  $ netkit mail send --from alice@lab --to bob@lab --cc carol@lab --bcc audit@lab \\
      --subject 'Grüße 👋' --text-file body.txt --html-file body.html \\
      --attach report.pdf --attach data.csv --inline logo=logo.png
  $ netkit mail send --to bob@lab --subject x --text y --dry-run > message.eml
  $ netkit mail send --server smtp.example.org:587 --starttls --user me --to you@example.org --text hi
  $ netkit mail send --server 127.0.0.1:4650 --tls --insecure --to bob@lab --text hi --trace
  $ netkit mail send --raw message.eml
  $ netkit mail send --raw message.eml --from bounces@lab --to qa@lab --dry-run --json
  $ NETKIT_PASSWORD=pw netkit mail send --raw - --server smtp.example.org:587 --user me < draft.eml

--raw FILE sends a saved message (e.g. from --dry-run) like sendmail -t: MAIL FROM is --from, else the
Sender or From header; the recipients are --to/--cc/--bcc if any is given, else every address in the
To, Cc and Bcc headers (Resent-To/Cc/Bcc instead, when present). Bcc, Resent-Bcc and Return-Path
headers are removed, line ends become CRLF, and a missing From, Date or Message-ID is added;
--dry-run prints the exact bytes that would be sent.

TLS: STARTTLS is used whenever the server offers it; --starttls makes it mandatory, --no-tls turns it
off, --tls speaks TLS from the first byte (give at most one of the three). A server off this machine
that offers no STARTTLS gets no password (--user) unless --no-tls asks for plaintext: someone on the
path may have removed the offer to read it. Certificates are verified;
the lab's own certificate in --data DIR (default ./netkit-data) is trusted automatically. --insecure
disables verification.`,
    )
    .action(
      action(async (opts: SendOpts) => {
        const { host, port } = smtpAddress(opts);
        if (opts.password !== undefined && opts.user === undefined)
          throw usageError('--password needs --user');
        const needPassword = opts.user !== undefined && !opts.dryRun;
        if (needPassword && opts.raw === '-' && opts.password === undefined && !process.env.NETKIT_PASSWORD)
          throw usageError(
            '--raw - reads the message from stdin: give the password with --password or NETKIT_PASSWORD',
          );
        // read the message before asking for a password, so that a missing file is reported first
        const raw = opts.raw !== undefined ? await readInput(opts.raw) : undefined;
        const password = needPassword ? await readPassword(opts.password) : undefined;
        const ca = opts.insecure ? undefined : await trustedCertificates(resolveDataDir(opts.data), opts.ca);
        const connection = {
          host,
          port,
          secure: opts.tls === true,
          ignoreTLS: opts.tls === false,
          requireTLS: opts.starttls === true,
          tlsInsecure: opts.insecure === true,
          ca,
          user: opts.user,
          password,
          name: opts.ehlo,
          timeoutMs: opts.timeout,
          dryRun: opts.dryRun === true,
          onTrace: opts.trace
            ? (ev: TraceEvent) => process.stderr.write(`${formatTrace(ev, 'client')}\n`)
            : undefined,
        };
        if (raw !== undefined) {
          const result = await sendRawMail({
            raw,
            from: opts.from,
            to: opts.to,
            cc: opts.cc,
            bcc: opts.bcc,
            ...connection,
          });
          printSendResult(result, opts);
          return;
        }
        const result = await sendMail({
          from: opts.from,
          to: opts.to,
          cc: opts.cc,
          bcc: opts.bcc,
          replyTo: opts.replyTo,
          subject: opts.subject,
          text: opts.text,
          textFile: opts.textFile,
          html: opts.html,
          htmlFile: opts.htmlFile,
          attachments: opts.attach,
          inline: opts.inline,
          headers: opts.header,
          ...connection,
        });
        printSendResult(result, opts);
      }),
    );

  group
    .command('show')
    .description('show a message: decoded headers, text and HTML parts, attachments (postal-mime)')
    .argument('<file>', 'an .eml / Maildir file, or - for stdin')
    .option('--json', 'print the parsed message as JSON (attachments without content)')
    .option('--all-headers', 'print every header, decoded')
    .option('--save-attachments <dir>', 'save attachments under safe, unique file names')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit mail show message.eml
  $ netkit mail send --to bob@lab --text hi --dry-run | netkit mail show -
  $ netkit mail show netkit-data/mail/bob/new/1732... --save-attachments ./attachments
  $ netkit mail show message.eml --json | jq .attachments

Attachment names from the message are reduced to one safe file name (no directories, no "..",
no control characters) and never overwrite an existing file.`,
    )
    .action(
      action(
        async (file: string, opts: { json?: boolean; allHeaders?: boolean; saveAttachments?: string }) => {
          const view = await parseMessage(await readInput(file));
          const saved = opts.saveAttachments ? await saveAttachments(view, opts.saveAttachments) : undefined;
          if (opts.json) {
            printJson(saved ? { ...viewToJson(view), saved } : viewToJson(view));
            return;
          }
          printView(view, opts.allHeaders === true);
          if (saved) {
            for (const s of saved)
              process.stdout.write(
                `saved ${printable(s.path)} (${formatBytes(s.size)})${s.original !== s.filename ? ` from "${printable(s.original ?? '')}"` : ''}\n`,
              );
          }
        },
      ),
    );
}
