/**
 * The trace event stream. Every server and client is an EventEmitter that emits `'trace'` with a
 * {@link TraceEvent}; the CLI's `--trace` prints them like Python's `set_debuglevel(1)` and the lab's
 * dashboard shows them live. Protocol modules redact secrets before emitting: nothing downstream
 * ever sees a password.
 */
import type { EventEmitter } from 'node:events';
import { terminalSafe } from './terminal-safe.js';

export type TraceKind = 'connect' | 'disconnect' | 'in' | 'out' | 'error' | 'info';

export interface TraceEvent {
  /** milliseconds since the epoch */
  ts: number;
  /** protocol or service name: smtp, pop3, ftp, chat, echo, http… */
  service: string;
  /** connection id, unique in this process */
  conn: number;
  kind: TraceKind;
  /** the line (without CRLF) or a description */
  text: string;
  /** `host:port` of the peer, on connect events */
  peer?: string;
}

/** The `'trace'` event of every server and client, for its event map (see events.ts). */
export interface TraceEvents {
  trace: [event: TraceEvent];
}

let lastConnId = 0;
/** A process-wide connection id, so events from different services never collide. */
export function nextConnId(): number {
  lastConnId += 1;
  return lastConnId;
}

export function traceEvent(
  target: EventEmitter,
  service: string,
  conn: number,
  kind: TraceKind,
  text: string,
  peer?: string,
): void {
  if (target.listenerCount('trace') === 0) return;
  const ev: TraceEvent = { ts: Date.now(), service, conn, kind, text };
  if (peer !== undefined) ev.peer = peer;
  target.emit('trace', ev);
}

// `s`: the secret runs to the end of the line whatever it holds (a bare CR or U+2028 once let a
// whole line through unredacted)
const SECRET_COMMANDS = /^(\s*(?:PASS|ACCT|AUTH\s+\S+|APOP\s+\S+)\s+)(.*)$/is;

/**
 * Redact the secret part of a protocol command: `PASS hunter2` → `PASS ****`,
 * `AUTH PLAIN AGJvYgBz` → `AUTH PLAIN ****`. Lines that carry no secret come back unchanged.
 */
export function redactCommand(line: string): string {
  const m = SECRET_COMMANDS.exec(line);
  if (!m) return line;
  return `${m[1]}****`;
}

/**
 * Remove the password from any `scheme://user:pass@host` inside a text. The password runs to the
 * last `@` of the word, so one containing `@` or `/` is hidden whole (a path with an `@` may be
 * hidden with it: better too much than too little).
 */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):\S*@/gi, '$1:****@');
}

/** `C: …` / `S: …` form, as printed by `--trace`. */
export function formatTrace(ev: TraceEvent, side: 'server' | 'client' = 'server'): string {
  const tag = `[${ev.service}#${ev.conn}]`;
  // the text is the peer's: an ESC or CR in a command must be shown, not obeyed by the terminal
  const text = terminalSafe(ev.text);
  switch (ev.kind) {
    case 'in':
      return `${tag} ${side === 'server' ? 'C' : 'S'}: ${text}`;
    case 'out':
      return `${tag} ${side === 'server' ? 'S' : 'C'}: ${text}`;
    case 'connect':
      return `${tag} * connect ${terminalSafe(ev.peer ?? '')} ${text}`.trimEnd();
    case 'disconnect':
      return `${tag} * disconnect ${text}`.trimEnd();
    case 'error':
      return `${tag} ! ${text}`;
    default:
      return `${tag} * ${text}`;
  }
}
