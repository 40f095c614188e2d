/**
 * Message composition for `mail send`: validate every value that will end up in an SMTP command or a
 * header, read the files, and let nodemailer's MailComposer build the RFC 5322 / MIME message
 * (multipart/alternative for text + HTML, multipart/related for `cid:` images, multipart/mixed for
 * attachments, RFC 2047 encoded words for non-ASCII headers, content types from file extensions).
 *
 * Why the checks here when nodemailer also strips line breaks in some places: header and envelope
 * injection (`Subject: hi\r\nBcc: victim@x`, `RCPT TO:<a@b>\r\nDATA…`) is the classic mail bug, so we
 * refuse CR, LF and NUL in every such value with `NETKIT_INVALID_INPUT` before any file is read or
 * any socket is opened, instead of relying on the composer's silent clean-up.
 *
 * Everything is read into memory first and MailComposer runs with file and URL access disabled, so
 * nothing in a user-supplied string (an `<img src>` or a header) can make the composer open a file
 * or fetch a URL; the dry-run bytes and the sent bytes are the same buffer.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { domainToASCII, domainToUnicode } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { NetkitError } from '../core/errors.js';
import { findUtf8Address, hasUtf8LocalPart, type Utf8Address } from './smtputf8.js';

/** A file to attach: a path (read by us), or content in memory with a file name. */
export interface MailAttachment {
  /** file to read; its base name is the default file name */
  path?: string;
  /** content in memory (instead of `path`) */
  content?: Buffer | string;
  /** file name in the message; the content type is derived from its extension */
  filename?: string;
  /** explicit MIME type (otherwise from the extension) */
  contentType?: string;
}

/** An image the HTML references as `cid:CID`. */
export interface InlineImage extends MailAttachment {
  /** Content-ID; default: derived from the file name (`logo.png` → `logo.png`) */
  cid?: string;
}

/** What to send: the message fields. */
export interface MailMessageOptions {
  /** sender address (`a@x` or `Name <a@x>`); default `USER@localhost` */
  from?: string;
  /** recipients (`a@x` or `Name <a@x>`), in the To header and the envelope */
  to?: string | string[];
  /** recipients in the Cc header and the envelope */
  cc?: string | string[];
  /** envelope-only recipients: they never appear in the headers */
  bcc?: string | string[];
  /** the Reply-To header */
  replyTo?: string | string[];
  /** UTF-8; non-ASCII is RFC 2047-encoded */
  subject?: string;
  /** the plain-text part (UTF-8) */
  text?: string;
  /** read the text part from a file (UTF-8) */
  textFile?: string;
  /** the HTML part (UTF-8); with `text` as well, a multipart/alternative message */
  html?: string;
  /** read the HTML part from a file (UTF-8) */
  htmlFile?: string;
  /** files to attach: paths or attachment objects */
  attachments?: Array<string | MailAttachment>;
  /** images for the HTML: paths, `CID=PATH` strings, or objects */
  inline?: Array<string | InlineImage>;
  /** extra headers: `{K: V}`, `[[K, V]]` or `['K: V']` */
  headers?: Record<string, string> | Array<[string, string]> | string[];
  /** Message-ID to use instead of a generated one */
  messageId?: string;
  /** Date header (default: now) */
  date?: Date;
}

export interface ComposedMail {
  /** the RFC 5322 message, CRLF line ends, exactly the bytes sent in DATA */
  message: Buffer;
  messageId: string;
  /** the SMTP envelope: MAIL FROM and every RCPT TO (to + cc + bcc) */
  envelope: { from: string; to: string[] };
  /** Content-IDs of the inline images, in the order given */
  cids: Array<{ cid: string; filename: string }>;
  /**
   * Set when the message needs SMTPUTF8 (RFC 6531): the first address with a non-ASCII local part
   * (or a header with UTF-8). Such a message is only sent to a server that offers the extension.
   */
  smtpUtf8?: Utf8Address;
  /**
   * The body has 8-bit bytes: sent with BODY=8BITMIME, only to a server that offers it. Never set
   * for a composed message (nodemailer encodes every part); a raw one (raw-message.ts) may be.
   */
  eightBitBody?: boolean;
}

const INJECTION = /[\r\n\0]/;
/** RFC 5322 §2.1.1: a line is at most 998 octets without its CRLF. */
const MAX_LINE = 998;
/**
 * Folding happens only at white space, so a run this long cannot be brought under MAX_LINE next to
 * its header name; nodemailer leaves such an ASCII run as it is.
 */
const UNFOLDABLE = /\S{900,}/;
const HEADER_NAME = /^[!-9;-~]+$/; // RFC 5322 ftext: printable ASCII except ':'
const CID_RE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+$/;
const ADDRESS_RE = /^[^\s<>()[\],;:"@\\]+@[^\s<>()[\],;:"@\\]+$/u;
/** Headers that only the composer may write: overriding them would break the message or leak Bcc. */
const RESERVED_HEADERS = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'message-id',
  'date',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
]);

function describe(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

/**
 * Refuse CR, LF and NUL in a value bound for a header or an SMTP command.
 * @throws NetkitError NETKIT_INVALID_INPUT
 */
export function assertNoInjection(what: string, value: string): void {
  if (INJECTION.test(value)) {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `${what} contains a line break or NUL (header/command injection refused): ${describe(value)}`,
    );
  }
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/**
 * Parse and check one address field value (may hold several `a@x, Name <b@y>` addresses).
 * Returns the bare addresses.
 */
export function checkAddresses(what: string, value: string): string[] {
  assertNoInjection(what, value);
  const parsed = addressparser(value, { flatten: true });
  const out: string[] = [];
  for (const a of parsed) {
    const addr = a.address ?? '';
    if (!ADDRESS_RE.test(addr)) {
      throw new NetkitError('NETKIT_INVALID_INPUT', `${what}: ${describe(value)} is not a mail address`);
    }
    out.push(addr);
  }
  if (out.length === 0) {
    throw new NetkitError('NETKIT_INVALID_INPUT', `${what}: ${describe(value)} is not a mail address`);
  }
  return out;
}

/**
 * The envelope form of an address. With an ASCII local part, an internationalised domain
 * (`x@bücher.de`) becomes its A-label (`x@xn--bcher-kva.de`, RFC 5890), as nodemailer already writes
 * it in the headers: a non-ASCII domain in MAIL FROM / RCPT TO would otherwise need SMTPUTF8
 * (RFC 6531), which many servers lack. A non-ASCII local part (`bøb@bücher.de`) has no ASCII form
 * and needs SMTPUTF8 anyway; then the domain goes out in UTF-8 (U-labels, RFC 6531 §3.2), which is
 * how nodemailer writes such an address in the headers, so envelope and headers agree.
 */
export function envelopeAddress(what: string, address: string): string {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  const utf8 = hasUtf8LocalPart(address);
  if (!utf8 && /^[\x21-\x7e]*$/.test(domain)) return address;
  const ascii = domainToASCII(domain);
  if (!ascii)
    throw new NetkitError('NETKIT_INVALID_INPUT', `${what}: ${describe(address)} has an invalid domain`);
  return `${address.slice(0, at + 1)}${utf8 ? domainToUnicode(ascii) : ascii}`;
}

/** Normalise the `headers` option to pairs, checking names and values. */
export function parseHeaders(headers: MailMessageOptions['headers']): Array<[string, string]> {
  let pairs: Array<[string, string]>;
  if (headers === undefined) pairs = [];
  else if (Array.isArray(headers)) {
    pairs = (headers as Array<string | [string, string]>).map((h) => {
      if (typeof h !== 'string') return h;
      assertNoInjection('header', h);
      const i = h.indexOf(':');
      if (i <= 0) throw new NetkitError('NETKIT_INVALID_INPUT', `header ${describe(h)} is not "Name: value"`);
      return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
    });
  } else pairs = Object.entries(headers);
  for (const [k, v] of pairs) {
    assertNoInjection('header name', k);
    assertNoInjection(`header ${k}`, v);
    if (!HEADER_NAME.test(k))
      throw new NetkitError('NETKIT_INVALID_INPUT', `${describe(k)} is not a valid header name`);
    if (RESERVED_HEADERS.has(k.toLowerCase()))
      throw new NetkitError(
        'NETKIT_INVALID_INPUT',
        `header ${k} is set by the composer; use the matching option (e.g. --from, --subject)`,
      );
  }
  return pairs;
}

/** `CID=PATH` → {cid, path}; a plain path (or one whose prefix is not a cid token) stays a path. */
export function parseInlineSpec(spec: string): InlineImage {
  const i = spec.indexOf('=');
  if (i > 0 && CID_RE.test(spec.slice(0, i)) && !spec.slice(0, i).includes('/')) {
    return { cid: spec.slice(0, i), path: spec.slice(i + 1) };
  }
  return { path: spec };
}

/** A cid made from a file name: only characters that are safe in a Content-ID. */
export function cidFromFilename(filename: string): string {
  const cleaned = filename.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._]+/, '');
  return cleaned || 'image';
}

async function loadPart(
  what: string,
  a: MailAttachment,
): Promise<{ content: Buffer; filename: string; contentType?: string }> {
  let content: Buffer;
  if (a.content !== undefined) content = Buffer.isBuffer(a.content) ? a.content : Buffer.from(a.content);
  else if (a.path !== undefined) {
    try {
      content = await readFile(a.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new NetkitError(
        code === 'ENOENT' ? 'NETKIT_NOT_FOUND' : 'NETKIT_IO',
        `${what} ${describe(a.path)}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      );
    }
  } else throw new NetkitError('NETKIT_INVALID_INPUT', `${what} needs a path or content`);
  const filename = a.filename ?? (a.path !== undefined ? path.basename(a.path) : 'attachment');
  assertNoInjection(`${what} file name`, filename);
  if (a.contentType !== undefined) assertNoInjection(`${what} content type`, a.contentType);
  return a.contentType === undefined
    ? { content, filename }
    : { content, filename, contentType: a.contentType };
}

async function readText(what: string, inline: string | undefined, file: string | undefined) {
  if (inline !== undefined && file !== undefined)
    throw new NetkitError('NETKIT_USAGE', `give either the ${what} or a ${what} file, not both`);
  if (file === undefined) return inline;
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new NetkitError('NETKIT_IO', `${what} file ${describe(file)}: ${(err as Error).message}`);
  }
}

export function defaultFrom(): string {
  let user = 'netkit';
  try {
    user = os.userInfo().username.replace(/[^A-Za-z0-9._-]/g, '') || 'netkit';
  } catch {
    // no passwd entry (containers): keep the fallback
  }
  return `${user}@localhost`;
}

/**
 * Check the message fields (every header-bound value, before anything else happens).
 * Returns the envelope. Exposed so a sender can validate before it connects.
 */
export function validateMessage(opts: MailMessageOptions): { from: string; to: string[] } {
  const from = opts.from ?? defaultFrom();
  const sender = envelopeAddress('from', checkAddresses('from', from)[0]!);
  const rcpts: string[] = [];
  for (const field of ['to', 'cc', 'bcc'] as const) {
    for (const v of list(opts[field]))
      rcpts.push(...checkAddresses(field, v).map((a) => envelopeAddress(field, a)));
  }
  for (const v of list(opts.replyTo)) checkAddresses('reply-to', v);
  if (rcpts.length === 0) throw new NetkitError('NETKIT_USAGE', 'no recipients: give --to, --cc or --bcc');
  if (opts.subject !== undefined) assertNoInjection('subject', opts.subject);
  if (opts.messageId !== undefined) assertNoInjection('message id', opts.messageId);
  parseHeaders(opts.headers);
  for (const a of opts.attachments ?? []) {
    const att = typeof a === 'string' ? { path: a } : a;
    if (att.filename !== undefined) assertNoInjection('attachment file name', att.filename);
    if (att.path !== undefined) assertNoInjection('attachment file name', path.basename(att.path));
  }
  for (const i of opts.inline ?? []) {
    const img = typeof i === 'string' ? parseInlineSpec(i) : i;
    if (img.cid !== undefined) {
      assertNoInjection('inline cid', img.cid);
      if (!CID_RE.test(img.cid))
        throw new NetkitError(
          'NETKIT_INVALID_INPUT',
          `inline cid ${describe(img.cid)} has invalid characters`,
        );
    }
    if (img.path !== undefined) assertNoInjection('inline file name', path.basename(img.path));
  }
  return { from: sender, to: [...new Set(rcpts)] };
}

/**
 * Refuse a message with a line over 998 octets (RFC 5322 §2.1.1): servers may reject it, truncate
 * it or wrap it and break the header. Bodies are QP/base64-encoded by nodemailer, so only a header
 * the composer cannot fold (an unbroken display name or `--header` value) gets here.
 * @throws NetkitError NETKIT_INVALID_INPUT
 */
function checkLineLengths(message: Buffer): void {
  let start = 0;
  while (start < message.length) {
    let end = message.indexOf(10, start);
    if (end === -1) end = message.length;
    const len = end - start - (end > start && message[end - 1] === 13 ? 1 : 0);
    if (len > MAX_LINE) {
      const line = message.subarray(start, start + 60).toString('utf8');
      throw new NetkitError(
        'NETKIT_INVALID_INPUT',
        `a header line would be ${len} octets, over the 998 allowed (RFC 5322 §2.1.1), and has no space to fold at: ${describe(line)}`,
      );
    }
    start = end + 1;
  }
}

/**
 * nodemailer leaves out a header whose value is empty (a `--header` or the subject), though RFC 5322
 * allows one (`unstructured` may be empty) and swaks sends `--header 'X-Empty:'` as written, Python
 * an empty Subject as `Subject:`. Such a header goes into the
 * composer with a value of its own that cannot occur anywhere else, and {@link emptyHeaders} then
 * takes that value out of the built header section, leaving `X-Empty:`.
 */
const EMPTY_VALUE = `netkit-empty-header-${randomUUID()}`;

/** The built message with every {@link EMPTY_VALUE} header made empty again. */
function emptyHeaders(message: Buffer): Buffer {
  const end = message.indexOf('\r\n\r\n');
  const header = message.subarray(0, end === -1 ? message.length : end).toString('latin1');
  if (!header.includes(EMPTY_VALUE)) return message;
  return Buffer.concat([
    Buffer.from(header.split(`: ${EMPTY_VALUE}`).join(':'), 'latin1'),
    message.subarray(header.length),
  ]);
}

/** Validate, read the files, and build the message bytes. No network I/O. */
export async function composeMail(opts: MailMessageOptions): Promise<ComposedMail> {
  const envelope = validateMessage(opts);
  const text = await readText('text', opts.text, opts.textFile);
  const html = await readText('html', opts.html, opts.htmlFile);
  const attachments: Array<{ content: Buffer; filename: string; contentType?: string; cid?: string }> = [];
  for (const a of opts.attachments ?? []) {
    attachments.push(await loadPart('attachment', typeof a === 'string' ? { path: a } : a));
  }
  const cids: ComposedMail['cids'] = [];
  const used = new Set<string>();
  for (const i of opts.inline ?? []) {
    const img = typeof i === 'string' ? parseInlineSpec(i) : i;
    const part = await loadPart('inline image', img);
    let cid = img.cid ?? cidFromFilename(part.filename);
    if (img.cid === undefined) {
      const base = cid;
      for (let n = 2; used.has(cid); n++) cid = `${n}-${base}`;
    } else if (used.has(cid)) {
      throw new NetkitError('NETKIT_INVALID_INPUT', `inline cid ${describe(cid)} is used twice`);
    }
    used.add(cid);
    cids.push({ cid, filename: part.filename });
    attachments.push({ ...part, cid });
  }
  const headers: Array<{ key: string; value: string | { prepared: true; foldLines?: true; value: string } }> =
    parseHeaders(opts.headers).map(([key, value]) => ({
      key,
      value: value.trim() === '' ? { prepared: true, value: EMPTY_VALUE } : value,
    }));
  let subject = opts.subject;
  if (subject !== undefined && subject.trim() === '') {
    // an explicitly empty subject is written as `Subject:`, as Python's EmailMessage writes it;
    // nodemailer would leave the header out (a message with no subject at all)
    subject = EMPTY_VALUE;
  } else if (subject !== undefined && UNFOLDABLE.test(subject)) {
    // nodemailer would write a long ASCII word as is, past the line limit; encoded words (RFC 2047)
    // may be split anywhere, so the subject goes out as a run of short ones that fold cleanly
    headers.push({
      key: 'Subject',
      value: { prepared: true, foldLines: true, value: encodeWord(subject, 'Q', 52) },
    });
    subject = undefined;
  }
  const composer = new MailComposer({
    from: opts.from ?? defaultFrom(),
    to: list(opts.to),
    cc: list(opts.cc),
    bcc: list(opts.bcc),
    replyTo: list(opts.replyTo),
    subject,
    text,
    html,
    attachments,
    headers,
    messageId: opts.messageId,
    date: opts.date,
    newline: 'win',
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const node = composer.compile();
  // Bcc must never be written: MimeNode drops it unless keepBcc is set, and we never set it
  node.keepBcc = false;
  const message = emptyHeaders(await node.build());
  checkLineLengths(message);
  const fields: Array<[string, string[]]> = (['from', 'to', 'cc', 'bcc', 'replyTo'] as const).map((f) => [
    f === 'replyTo' ? 'reply-to' : f,
    list(f === 'from' ? (opts.from ?? defaultFrom()) : opts[f]).flatMap((v) => checkAddresses(f, v)),
  ]);
  const smtpUtf8 = findUtf8Address(fields, message);
  const composed: ComposedMail = { message, messageId: node.messageId(), envelope, cids };
  if (smtpUtf8 !== undefined) composed.smtpUtf8 = smtpUtf8;
  return composed;
}
