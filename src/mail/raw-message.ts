/**
 * A prepared RFC 5322 message sent as it is (`netkit mail send --raw FILE`), the way `sendmail -t`,
 * swaks `--data FILE` and `curl --upload-file` do: `prepareRawMessage()` turns the bytes of a saved
 * message (`mail send --dry-run > message.eml`, a Maildir file, an MUA's draft) into a `ComposedMail`
 * — the exact bytes for DATA plus the SMTP envelope — that the ordinary submit path sends. No network
 * I/O, no file access: a pure function, table-tested.
 *
 * Why our own and not nodemailer's `raw` option: nodemailer sends a raw message untouched, so a file
 * saved with LF line ends, a Bcc header or a missing Date would go out as they are; and its envelope
 * comes from options only. A submission agent has more to do (what `sendmail -t` does):
 *
 * - Envelope. MAIL FROM is `from` if given, else the first mailbox of the Sender header, else of From
 *   (for a resent message, RFC 5322 §3.6.6: Resent-Sender, then Resent-From, of the topmost block).
 *   Recipients are `to`/`cc`/`bcc` when any is given (then the headers are not read for recipients,
 *   like sendmail without -t); otherwise every address of To, Cc and Bcc — or, when the message has
 *   Resent-To/Cc/Bcc fields, of those only (as Postfix's `sendmail -t` does). Group syntax
 *   (`undisclosed-recipients:;`, `team: a@x, b@x;`), quoted display names with commas and comments
 *   are parsed by nodemailer's addressparser; every address is checked like a composed one.
 * - Bcc and Resent-Bcc fields are removed from the bytes sent (never leak Bcc), and so is
 *   Return-Path, which only the final delivery may add (RFC 5321 §4.4).
 * - Line ends become CRLF: LF and CRLF end a line; a bare CR ends a line in the body (as nodemailer's
 *   DATA stream would turn it into CRLF anyway, so the dry-run bytes stay the sent bytes) but is refused
 *   in the header section, where it could end the header early and turn a Bcc into body text.
 *   The header section ends at the first empty line. A line over 998 octets (RFC 5322 §2.1.1) and a
 *   NUL anywhere are refused: a server would reject, truncate or wrap them.
 * - RFC 5322 §3.6 requires From and Date: a missing From is added from the envelope sender, a missing
 *   Date with the current time; a missing Message-ID is added as well (as submission servers do,
 *   RFC 6409 §8.3), so the result always names the Message-ID.
 * - 8-bit: a non-ASCII header (RFC 6532, which must be UTF-8) or envelope address marks the message as
 *   needing SMTPUTF8 (smtputf8.ts); an 8-bit body is sent with BODY=8BITMIME, and only to a server that
 *   offers it (eightbitmime.ts, checked in smtp-submit.ts).
 */
import { randomUUID } from 'node:crypto';
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import { NetkitError } from '../core/errors.js';
import {
  assertNoInjection,
  type ComposedMail,
  checkAddresses,
  defaultFrom,
  envelopeAddress,
} from './compose.js';
import { hasEightBitBody } from './eightbitmime.js';
import { rfc5322Date } from './rfc5322-date.js';
import { findUtf8Address } from './smtputf8.js';

/** Envelope overrides (all optional) and the values for headers the message lacks. */
export interface RawMessageOptions {
  /** MAIL FROM (`a@x` or `Name <a@x>`); default: the Sender or From header */
  from?: string;
  /** recipients; when any of to/cc/bcc is given, the headers are not read for recipients */
  to?: string | string[];
  /** more recipients (see `to`) */
  cc?: string | string[];
  /** more recipients (see `to`); a Bcc header in the message is removed either way */
  bcc?: string | string[];
  /** Date to add when the message has none (default: now) */
  date?: Date;
  /** Message-ID to add when the message has none (default: a random one at the sender's domain) */
  messageId?: string;
}

/** A prepared message: the bytes and envelope to submit, and what was changed on the way. */
export interface RawMail extends ComposedMail {
  /** header fields added: `From`, `Date`, `Message-ID` (in that order, where missing) */
  added: string[];
  /** header fields removed: `Bcc`, `Resent-Bcc`, `Return-Path` (as found) */
  removed: string[];
  /** the body has octets above 127: sent with BODY=8BITMIME, only where the server offers it */
  eightBitBody: boolean;
}

/** RFC 5322 §2.1.1: a line is at most 998 octets without its CRLF. */
const MAX_LINE = 998;
const CRLF = Buffer.from('\r\n');
/** field-name (printable ASCII except ':'), then — obsolete syntax, §4.5 — white space before the colon */
const FIELD = /^([!-9;-~]+)[ \t]*:/;
const REMOVED = new Set(['bcc', 'resent-bcc', 'return-path']);

interface Field {
  name: string;
  /** lower case */
  key: string;
  /** the unfolded value (UTF-8), without the name and colon */
  value: string;
  /** the field's lines, without line ends */
  lines: Buffer[];
}

function invalid(message: string): NetkitError {
  return new NetkitError('NETKIT_INVALID_INPUT', message);
}

function show(line: Buffer): string {
  const s = line.subarray(0, 60).toString('utf8');
  return JSON.stringify(line.length > 60 ? `${s}…` : s);
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/**
 * Split the message into lines (LF, CRLF; a bare CR only in the body), refusing NUL and lines over
 * 998 octets. Returns the lines and the index of the empty line that ends the header section (-1: none).
 */
function splitLines(input: Buffer): { lines: Buffer[]; boundary: number } {
  const lines: Buffer[] = [];
  let boundary = -1;
  let start = 0;
  const push = (end: number) => {
    const line = input.subarray(start, end);
    if (line.length > MAX_LINE)
      throw invalid(
        `line ${lines.length + 1} is ${line.length} octets, over the 998 allowed (RFC 5322 §2.1.1): ${show(line)}`,
      );
    if (boundary === -1 && line.length === 0) boundary = lines.length;
    lines.push(line);
  };
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (b === 0) throw invalid(`line ${lines.length + 1} contains a NUL byte, which no message may contain`);
    if (b === 10) {
      push(i > start && input[i - 1] === 13 ? i - 1 : i);
      start = i + 1;
    } else if (b === 13 && input[i + 1] !== 10) {
      if (boundary === -1)
        throw invalid(
          `line ${lines.length + 1} has a bare CR (carriage return without line feed) in the header section; fix the line ends`,
        );
      push(i);
      start = i + 1;
    }
  }
  if (start < input.length) push(input.length);
  return { lines, boundary };
}

/** Group the header lines into fields (unfolding continuation lines), checking names and UTF-8. */
function parseHeaderFields(lines: Buffer[]): Field[] {
  const fields: Field[] = [];
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  lines.forEach((line, i) => {
    let text: string;
    try {
      text = utf8.decode(line);
    } catch {
      throw invalid(
        `line ${i + 1} is not UTF-8: an 8-bit header must be UTF-8 (RFC 6532); encode it as RFC 2047 encoded words`,
      );
    }
    const first = line[0];
    if (first === 32 || first === 9) {
      const field = fields.at(-1);
      if (!field) throw invalid(`line 1 starts with white space: a message must start with a header field`);
      field.value += text;
      field.lines.push(line);
      return;
    }
    const m = FIELD.exec(text);
    if (!m) {
      const hint = text.startsWith('From ') ? ' (an mbox "From " separator? remove it)' : '';
      throw invalid(`line ${i + 1} is not a header field ("Name: value")${hint}: ${show(line)}`);
    }
    fields.push({ name: m[1]!, key: m[1]!.toLowerCase(), value: text.slice(m[0].length), lines: [line] });
  });
  return fields;
}

/** Every address of one address header; groups are flattened, an empty group gives none. */
function headerAddresses(field: Field): string[] {
  const what = `${field.name} header`;
  const out: string[] = [];
  for (const a of addressparser(field.value, { flatten: true })) {
    if (!a.address)
      throw invalid(`${what}: ${JSON.stringify(a.name || field.value.trim())} is not a mail address`);
    out.push(...checkAddresses(what, a.address).map((x) => envelopeAddress(what, x)));
  }
  return out;
}

/** The first mailbox of the first field named `key`, if there is such a field. */
function firstMailbox(fields: Field[], key: string): string | undefined {
  const field = fields.find((f) => f.key === key);
  if (!field) return undefined;
  const first = headerAddresses(field)[0];
  if (first === undefined)
    throw invalid(`${field.name} header has no address: give the envelope sender with --from`);
  return first;
}

/** The `<id>` of a Message-ID value (the value trimmed when it has no angle brackets). */
function messageIdOf(value: string): string {
  const m = /<[^<>]*>/.exec(value);
  return m ? m[0] : value.trim();
}

/**
 * Prepare a saved RFC 5322 message for submission: normalise line ends to CRLF, remove Bcc,
 * Resent-Bcc and Return-Path, add From, Date and Message-ID where missing, and work out the envelope
 * (see the module comment for the rules). Pure: no I/O.
 *
 * @throws NetkitError NETKIT_INVALID_INPUT for a malformed message or address, NETKIT_USAGE when
 * there is no recipient
 * @example
 * const mail = prepareRawMessage(await readFile('message.eml'));
 * mail.envelope; // { from: 'alice@lab', to: ['bob@lab', 'audit@lab'] }
 * await new SmtpSender({ port: 2525 }).submit(mail);
 */
export function prepareRawMessage(raw: Buffer | string, opts: RawMessageOptions = {}): RawMail {
  let input = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  // a byte order mark that an editor put before the first header is not part of the message
  if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) input = input.subarray(3);
  if (input.length === 0) throw invalid('the message is empty');
  const { lines, boundary } = splitLines(input);
  const headerLines = boundary === -1 ? lines : lines.slice(0, boundary);
  const fields = parseHeaderFields(headerLines);
  const resent = fields.some((f) => /^resent-(to|cc|bcc)$/.test(f.key));

  // the envelope sender
  let from: string | undefined;
  if (opts.from !== undefined) from = envelopeAddress('from', checkAddresses('from', opts.from)[0]!);
  else if (resent) from = firstMailbox(fields, 'resent-sender') ?? firstMailbox(fields, 'resent-from');
  from ??= firstMailbox(fields, 'sender') ?? firstMailbox(fields, 'from');
  const hasFrom = fields.some((f) => f.key === 'from');

  // the recipients
  const rcpts: string[] = [];
  const given = opts.to !== undefined || opts.cc !== undefined || opts.bcc !== undefined;
  if (given) {
    for (const field of ['to', 'cc', 'bcc'] as const)
      for (const v of list(opts[field]))
        rcpts.push(...checkAddresses(field, v).map((a) => envelopeAddress(field, a)));
  } else {
    const keys = resent ? ['resent-to', 'resent-cc', 'resent-bcc'] : ['to', 'cc', 'bcc'];
    for (const f of fields) if (keys.includes(f.key)) rcpts.push(...headerAddresses(f));
  }
  if (rcpts.length === 0)
    throw new NetkitError(
      'NETKIT_USAGE',
      given
        ? 'no recipients: give --to, --cc or --bcc'
        : `no recipients: the message has no ${resent ? 'Resent-To, Resent-Cc or Resent-Bcc' : 'To, Cc or Bcc'} address; give --to, --cc or --bcc`,
    );

  // the header fields: drop Bcc & co, add what RFC 5322 requires
  const removed: string[] = [];
  const out: Buffer[] = [];
  for (const f of fields) {
    if (REMOVED.has(f.key)) {
      removed.push(f.name);
      continue;
    }
    for (const l of f.lines) out.push(l, CRLF);
  }
  const added: string[] = [];
  const add = (name: string, value: string) => {
    added.push(name);
    out.push(Buffer.from(`${name}: ${value}`, 'utf8'), CRLF);
  };
  let sender = from;
  if (sender === undefined) {
    sender = envelopeAddress('from', defaultFrom());
    add('From', sender);
  } else if (!hasFrom) add('From', opts.from?.trim() ?? sender);
  if (!fields.some((f) => f.key === 'date')) add('Date', rfc5322Date(opts.date ?? new Date()));
  const idField = fields.find((f) => f.key === 'message-id');
  let messageId: string;
  if (idField) messageId = messageIdOf(idField.value);
  else {
    const domain = domainToASCII(sender.slice(sender.lastIndexOf('@') + 1)) || 'localhost';
    messageId = `<${randomUUID()}@${domain}>`;
    if (opts.messageId !== undefined) {
      assertNoInjection('message id', opts.messageId);
      const id = opts.messageId.trim().replace(/^<|>$/g, '');
      if (!/^[^<>\s]+$/.test(id)) throw invalid(`message id ${JSON.stringify(opts.messageId)} is not valid`);
      messageId = `<${id}>`;
    }
    add('Message-ID', messageId);
  }
  if (boundary !== -1) for (const l of lines.slice(boundary)) out.push(l, CRLF);
  const message = Buffer.concat(out);

  const envelope = { from: sender, to: [...new Set(rcpts)] };
  const mail: RawMail = {
    message,
    messageId,
    envelope,
    cids: [],
    added,
    removed,
    eightBitBody: hasEightBitBody(message),
  };
  const smtpUtf8 = findUtf8Address(
    [
      ['from', [envelope.from]],
      ['to', envelope.to],
    ],
    message,
  );
  if (smtpUtf8 !== undefined) mail.smtpUtf8 = smtpUtf8;
  return mail;
}
