/**
 * Which reply an SMTP client is waiting for, followed from nodemailer's transaction log, so that a
 * server that goes silent is named with the step it left unanswered. nodemailer's own timeout
 * errors cannot say it: an idle socket fails as `Timeout` with command `CONN`, whatever was in
 * flight (its `timeoutType` tells only which timer ran out).
 *
 * Commands are queued as they go out — with PIPELINING, MAIL FROM, RCPT TO and DATA leave together —
 * and each reply answers the oldest one. After a 3xx to DATA the message goes out without a command
 * line, so the next reply awaited is the one to the end of the data.
 */
import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import { type NetkitError, noReply } from '../core/errors.js';

/** nodemailer's defaults for the timers whose expiry we report */
const GREETING_TIMEOUT_MS = 30_000;
const SOCKET_TIMEOUT_MS = 600_000;

/** The step a command line starts, by its verb; undefined for a line that continues one (AUTH LOGIN's). */
export function smtpStep(line: string): string | undefined {
  if (line === '.') return 'end of data';
  return /^(?:EHLO|HELO|LHLO|STARTTLS|AUTH|MAIL FROM|RCPT TO|DATA|BDAT|RSET|NOOP|QUIT)\b/i
    .exec(line)?.[0]
    .toUpperCase();
}

/** One SMTP session's commands that wait for a reply, oldest first. */
export class AwaitedReply {
  private greeted = false;
  private readonly pending: string[] = [];
  private last: string | undefined;

  /** a command line as nodemailer logs it (secrets masked) */
  sent(line: string): void {
    const step = smtpStep(line) ?? this.last ?? (line.split(' ')[0] || 'command');
    this.last = step;
    this.pending.push(step);
  }

  /** a whole reply as nodemailer logs it */
  replied(reply: string): void {
    if (!this.greeted) {
      this.greeted = true;
      return;
    }
    const step = this.pending.shift();
    if (step === 'DATA' && /^3/.test(reply)) this.pending.push('end of data');
  }

  /** `greeting`, `EHLO`, `MAIL FROM`, `end of data`…; undefined when no reply is awaited */
  get step(): string | undefined {
    return this.greeted ? this.pending[0] : 'greeting';
  }

  /**
   * nodemailer's logger for `options` with its transaction log also read here. A caller's logger
   * object still gets every entry; nodemailer's console logger (`true`) is left as it is, unread.
   */
  watch(options: SMTPConnectionOptions): SMTPConnectionOptions {
    const logger = options.logger;
    if (logger === true) return options;
    const forward = typeof logger === 'object' ? logger : undefined;
    const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
    const watching = Object.fromEntries(
      levels.map((level) => [
        level,
        (entry: { tnx?: string } | undefined, message?: unknown, ...args: unknown[]) => {
          if (entry?.tnx === 'client') this.sent(String(message ?? ''));
          else if (entry?.tnx === 'server') this.replied(String(message ?? ''));
          forward?.[level]?.(entry, message, ...args);
        },
      ]),
    );
    return { ...options, logger: watching, transactionLog: true };
  }

  /**
   * nodemailer's timeout `err` as the one line every netkit client prints for a silent server
   * (`no reply from 127.0.0.1:2525 to MAIL FROM within 30000 ms`); undefined for any other error,
   * a connect or TLS handshake timeout included (no reply was awaited then).
   */
  timeoutError(err: unknown, server: string, options: SMTPConnectionOptions): NetkitError | undefined {
    const e = err as { code?: unknown; timeoutType?: unknown } | undefined;
    if (e?.code !== 'ETIMEDOUT') return undefined;
    if (e.timeoutType === 'GREETING_TIMEOUT')
      return noReply(server, 'greeting', options.greetingTimeout || GREETING_TIMEOUT_MS, { cause: err });
    if (e.timeoutType === 'SOCKET_TIMEOUT')
      return noReply(server, this.step, options.socketTimeout || SOCKET_TIMEOUT_MS, { cause: err });
    return undefined;
  }
}
