/**
 * FTP control-channel syntax, pure: command lines into verb + argument, and replies (RFC 959
 * §4.2) as `code text` or multi-line `code-first`, inner lines, `code last`. Inner lines are
 * indented by a space so none can be mistaken for the closing line, and CR/LF inside any text is
 * neutralised so a file name can never inject a reply.
 */
export function clean(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

/** The lines (without CRLF) of a reply. `lines` has at least one element. */
export function formatReply(code: number, lines: string | readonly string[]): string[] {
  const list = typeof lines === 'string' ? [lines] : lines;
  if (list.length <= 1) return [`${code} ${clean(list[0] ?? '')}`];
  const out = [`${code}-${clean(list[0]!)}`];
  for (let i = 1; i < list.length - 1; i++) {
    const l = clean(list[i]!);
    out.push(l.startsWith(' ') ? l : ` ${l}`);
  }
  out.push(`${code} ${clean(list[list.length - 1]!)}`);
  return out;
}

/** RFC 959 §4.1.2 quoting of a path in a 257 reply: `"` doubled. */
export function quotePath(p: string): string {
  return `"${p.replace(/"/g, '""')}"`;
}

export interface ParsedCommand {
  /** upper-cased verb, or '' when the line is not a command at all */
  verb: string;
  /** everything after the first space, unchanged (file names may start or end with spaces) */
  arg: string;
}

/**
 * Split a command line into verb and argument. Telnet IP/Synch bytes that clients put before ABOR
 * (RFC 959 §4.1.3) arrive as U+FFFD or Latin-1 `ÿôò` and are dropped.
 */
export function parseCommand(line: string): ParsedCommand {
  const s = line.replace(/^[\ufffd\u00ff\u00f4\u00f2]+/, '');
  const m = /^([A-Za-z]{3,4})(?: (.*))?$/s.exec(s);
  if (!m) return { verb: '', arg: s };
  return { verb: m[1]!.toUpperCase(), arg: m[2] ?? '' };
}

/** Telnet IAC, IP and DM: what clients may send before an urgent ABOR (RFC 959 §4.1.3). */
const TELNET_SYNCH = new Set([0xff, 0xf4, 0xf2]);

/**
 * An ABOR whose line ended in a bare CR (the `bareCR` hook of the control connection's line
 * framing): Python's `ftplib.FTP.abort()` sends `ABOR\r\n` as TCP urgent data, which makes the LF
 * the urgent byte, and without `SO_OOBINLINE` (Node cannot set it) that byte never reaches the
 * stream. Returns `ABOR` (Telnet IP/DM bytes before it dropped), or undefined for anything else.
 */
export function urgentAbort(head: Buffer): Buffer | undefined {
  let i = 0;
  while (i < head.length && TELNET_SYNCH.has(head[i]!)) i += 1;
  const rest = head.subarray(i);
  return rest.length === 4 && rest.toString('latin1').toUpperCase() === 'ABOR' ? rest : undefined;
}
