/**
 * Reading a received message: parse it with postal-mime (through mime-parse.ts) into a view
 * (decoded headers, text and HTML parts, attachments with sizes) for `mail show` and the `pop3
 * fetch` summary, and save attachments safely.
 *
 * Attachment file names come from the sender, i.e. from an attacker: `../../.bashrc`, `/etc/passwd`,
 * `C:\\evil.exe`, names with control characters or bidi overrides, `..`, or a name repeated so that a
 * second part overwrites the first. {@link safeFilename} reduces any name to a single harmless path
 * component and {@link saveAttachments} never overwrites (O_EXCL, so a planted symlink is not
 * followed either) and numbers duplicates.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { type Address, addressParser, decodeWords, type Email } from 'postal-mime';
import { ensureDir } from '../core/datadir.js';
import { terminalSafe } from '../core/terminal-safe.js';
import { decodeHeaderWords, headerValues } from './encoded-words.js';
import type { HeaderSource } from './header-source.js';
import { parseMime } from './mime-parse.js';
import { parseMailDate } from './rfc5322-date.js';

export interface AttachmentView {
  /** the name as the sender gave it (decoded), or null */
  filename: string | null;
  mimeType: string;
  disposition: string | null;
  /** Content-ID without angle brackets (inline images) */
  contentId?: string;
  size: number;
  content: Buffer;
}

export interface MessageView {
  /** every header, in order, RFC 2047 words decoded */
  headers: Array<{ name: string; value: string }>;
  from?: string;
  to: string[];
  cc: string[];
  replyTo: string[];
  subject?: string;
  /** ISO 8601 (UTC) when the Date header names a date as Python reads one, else as written */
  date?: string;
  messageId?: string;
  text?: string;
  html?: string;
  attachments: AttachmentView[];
  /** size of the raw message in bytes */
  size: number;
}

/** Python's `email.headerregistry` quotes a display name with one of these in it. */
const SPECIALS = /[()<>@,:;."[\]\\]/;

/** One mailbox as Python's email writes it: `Name <a@x>`, `"Q, R" <q@x>`, a bare address or name. */
function formatMailbox(a: Address): string {
  const name = SPECIALS.test(a.name) ? `"${a.name.replace(/["\\]/g, '\\$&')}"` : a.name;
  if (!a.address) return name || '<>';
  return name ? `${name} <${a.address}>` : a.address;
}

/** A mailbox, or a group as written (`Team: a@x, b@x;`, `undisclosed-recipients:;`), as Python shows it. */
function formatAddress(a: Address): string[] {
  if (!a.group) return [formatMailbox(a)];
  const members = a.group.map(formatMailbox).join(', ');
  return [`${a.name}:${members ? ` ${members}` : ''};`];
}

/** The addresses of every `key` header, as postal-mime collects To, Cc and Reply-To. */
function addressesOf(email: Email, key: string): string[] {
  return headerValues(email, key).flatMap((v) => addressParser(v).flatMap(formatAddress));
}

/**
 * The first From header, undecodable words kept, with every mailbox and group in it (RFC 5322
 * §3.6.2 allows several) as Python shows it; as written when it holds no address.
 */
export function fromText(email: HeaderSource): string | undefined {
  const from = headerValues(email, 'from')[0];
  return from === undefined ? undefined : addressParser(from).flatMap(formatAddress).join(', ') || from;
}

/** The Date header as written: read it with parseMailDate (as Python does), not postal-mime's `new Date()`. */
export function dateHeader(email: HeaderSource): string | undefined {
  return email.headers.find((h) => h.key === 'date' && h.value)?.value;
}

/** Parse an RFC 5322 message. Never throws on malformed MIME: postal-mime is lenient. */
export async function parseMessage(raw: Buffer): Promise<MessageView> {
  const email = await parseMime(raw);
  const view: MessageView = {
    headers: email.headers.map((h) => ({ name: h.originalKey, value: decodeHeaderWords(h.value) })),
    to: addressesOf(email, 'to'),
    cc: addressesOf(email, 'cc'),
    replyTo: addressesOf(email, 'reply-to'),
    attachments: email.attachments.map((a) => {
      const content = Buffer.from(
        typeof a.content === 'string'
          ? Buffer.from(a.content, 'base64')
          : new Uint8Array(a.content as ArrayBuffer),
      );
      const v: AttachmentView = {
        filename: a.filename,
        mimeType: a.mimeType,
        disposition: a.disposition,
        size: content.length,
        content,
      };
      if (a.contentId) v.contentId = a.contentId.replace(/^<|>$/g, '');
      return v;
    }),
    size: raw.length,
  };
  const from = fromText(email);
  if (from !== undefined) view.from = from;
  const subject = headerValues(email, 'subject')[0];
  if (subject !== undefined) view.subject = decodeWords(subject);
  const date = dateHeader(email);
  if (date !== undefined) view.date = parseMailDate(date)?.toISOString() ?? date;
  if (email.messageId !== undefined) view.messageId = email.messageId;
  if (email.text !== undefined) view.text = email.text;
  if (email.html !== undefined) view.html = email.html;
  return view;
}

/** The view without attachment bytes: what `--json` prints. */
export function viewToJson(view: MessageView): Record<string, unknown> {
  return {
    ...view,
    attachments: view.attachments.map(({ content: _content, ...rest }) => rest),
  };
}

/** Characters Windows forbids in a name (control, bidi and zero-width ones go too: terminalSafe). */
const FORBIDDEN_CHARS = /[<>:"|?*\\/]/g;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;
const MAX_NAME_BYTES = 200;

/**
 * Reduce a sender-supplied file name to one safe path component: no directories (only the last
 * segment of `a/b` or `a\\b` is kept), no control or bidi characters, no leading dots (no `..`, no
 * hidden files), no Windows-reserved names, at most 200 bytes (the extension kept). Falls back to
 * `fallback` when nothing is left.
 */
export function safeFilename(name: string | null | undefined, fallback = 'attachment'): string {
  let n = (name ?? '').replace(/\\/g, '/');
  n = n.slice(n.lastIndexOf('/') + 1);
  n = terminalSafe(n, { replaceWith: '_' }).replace(FORBIDDEN_CHARS, '_').normalize('NFC');
  n = n.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  if (WINDOWS_RESERVED.test(n)) n = `_${n}`;
  if (/^_*$/.test(n)) n = '';
  if (Buffer.byteLength(n) > MAX_NAME_BYTES) {
    const ext = path.extname(n).slice(0, 20);
    let base = n.slice(0, n.length - ext.length);
    while (Buffer.byteLength(base + ext) > MAX_NAME_BYTES) base = base.slice(0, -1);
    n = base + ext;
  }
  return n || fallback;
}

export interface SavedAttachment {
  /** the sender's name */
  original: string | null;
  /** the name it was saved under */
  filename: string;
  path: string;
  size: number;
}

/** A name not yet in `taken` (case-insensitively): `a.pdf`, `a-2.pdf`, `a-3.pdf`… */
export function uniqueName(name: string, taken: Set<string>): string {
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length) || name;
  let candidate = name;
  for (let i = 2; taken.has(candidate.toLowerCase()); i++) candidate = `${base}-${i}${ext}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}

/**
 * Write every attachment into `dir` under a safe, unique name. Existing files are never replaced
 * (O_EXCL): a clash moves on to the next number.
 */
export async function saveAttachments(view: MessageView, dir: string): Promise<SavedAttachment[]> {
  await ensureDir(dir);
  const taken = new Set<string>();
  const out: SavedAttachment[] = [];
  for (const [i, a] of view.attachments.entries()) {
    const safe = safeFilename(a.filename, `attachment-${i + 1}`);
    let name = uniqueName(safe, taken);
    for (;;) {
      const file = path.join(dir, name);
      try {
        const fh = await open(file, 'wx', 0o644);
        try {
          await fh.writeFile(a.content);
        } finally {
          await fh.close();
        }
        out.push({ original: a.filename, filename: name, path: file, size: a.content.length });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        name = uniqueName(safe, taken);
      }
    }
  }
  return out;
}
