/**
 * `sendRawMail()`: submit a prepared RFC 5322 message (raw-message.ts) over the same SMTP path as a
 * composed one (`SmtpSender.submit`, smtp-submit.ts) — TLS policy, AUTH, SMTPUTF8 and 8BITMIME
 * checks, trace events — or, with `dryRun`, only prepare it: the result's `message` is then exactly
 * the bytes a real send puts after DATA (Bcc removed, CRLF line ends, Date/Message-ID added).
 */
import type { TraceEvent } from '../core/trace.js';
import { prepareRawMessage, type RawMail, type RawMessageOptions } from './raw-message.js';
import { type SendMailResult, SmtpSender, type SmtpSubmitOptions } from './send.js';

export interface SendRawMailOptions extends RawMessageOptions, SmtpSubmitOptions {
  /** the message: RFC 5322 bytes (a string is taken as UTF-8) */
  raw: Buffer | string;
  /** prepare only: return the message and envelope, open no connection */
  dryRun?: boolean;
  /** receive the SMTP conversation */
  onTrace?: (ev: TraceEvent) => void;
}

export type SendRawMailResult = SendMailResult & RawMail;

/**
 * Prepare and send one saved message. The connection options and the message are both checked
 * before any socket is opened.
 *
 * @example
 * const r = await sendRawMail({ raw: await readFile('message.eml'), port: 2525 });
 * r.envelope; r.messageId; r.accepted; r.removed; // ['Bcc']
 */
export async function sendRawMail(options: SendRawMailOptions): Promise<SendRawMailResult> {
  const sender = new SmtpSender(options); // validates the connection values first
  if (options.onTrace) sender.on('trace', options.onTrace);
  const prepared = prepareRawMessage(options.raw, options);
  if (options.dryRun) return { ...prepared, dryRun: true, accepted: [], rejected: [] };
  return { ...prepared, ...(await sender.submit(prepared)) };
}
