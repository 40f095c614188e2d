/**
 * Command checks smtp-server has no hook for, applied to each connection by smtp-tweaks.ts:
 *
 * - `RSET x` and `DATA x` → 501: neither takes an argument (RFC 5321 §4.1.1.5, §4.1.1.4); the
 *   library would flush, or start DATA and take what follows as message text.
 * - `EXPN` → 502 5.5.1, not implemented (RFC 5321 §3.5.2, §7.3), instead of "500 command not
 *   recognized", which also counted towards the limit of unknown commands.
 * - AUTH during a mail transaction → 503 5.5.1 (RFC 4954 §4) at the AUTH command itself. The onAuth
 *   hook checks this too, but it runs only after the SASL exchange: the client would first be
 *   prompted with 334 and send its credentials.
 * - MAIL/RCPT addresses: smtp-server's parser splits the line at whitespace, which cuts a quoted
 *   local part like `<"a b"@x>` in two, and it turns A-label domains into Unicode, which hides
 *   whether the client sent a non-ASCII address. Its parser is wrapped so the spaces survive and
 *   the path as sent is kept for {@link rawPathOf} (see smtp-address.ts).
 *
 * Why patches rather than hooks: smtp-server calls application code only on connect, TLS, AUTH,
 * MAIL, RCPT, DATA and close — there is no per-command hook and no way to pre-process a command
 * line. So each connection gets own properties over the library's `handler_*` methods (which it
 * looks up by name) and over `_parseAddressCommand`; they call the library's code for everything
 * they do not refuse, and each is skipped when a release no longer has that member, leaving the
 * library's behaviour.
 */
import type { SMTPServerAddress } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { pathOfCommand, protectQuotedSpaces, splitAddress } from './smtp-address.js';

type Handler = (command: Buffer | string, callback: () => void) => void;
/** A refusal as [reply code, text starting with the enhanced status code], or undefined to go on. */
type Guard = (conn: SMTPConnection, args: string) => [number, string] | undefined;

const GUARDS: Record<string, Guard> = {
  RSET: (_conn, args) => (args ? [501, '5.5.4 Syntax: RSET (no parameters allowed)'] : undefined),
  DATA: (_conn, args) => (args ? [501, '5.5.4 Syntax: DATA (no parameters allowed)'] : undefined),
  AUTH: (conn) =>
    conn.session?.envelope?.mailFrom ? [503, '5.5.1 Error: MAIL transaction in progress'] : undefined,
};

/** Everything after the command word, trimmed. */
export function commandArguments(command: Buffer | string): string {
  const line = String(command).trim();
  const sp = line.search(/\s/);
  return sp === -1 ? '' : line.slice(sp).trim();
}

/** Paths as the client sent them, keyed by smtp-server's parsed address object. */
const rawPaths = new WeakMap<object, string>();

/**
 * The path of a MAIL/RCPT address as the client wrote it (A-label domains not decoded). Without
 * the parser wrapper only the local part is known for sure: the domain may have been decoded.
 */
export function rawPathOf(address: SMTPServerAddress): string {
  return rawPaths.get(address) ?? splitAddress(address.address).local;
}

/** Install the guards and the address-parser wrapper on one connection. */
export function guardCommands(conn: SMTPConnection): void {
  const members = conn as unknown as Record<string, unknown>;
  for (const [verb, guard] of Object.entries(GUARDS)) {
    const original = members[`handler_${verb}`];
    if (typeof original !== 'function') continue;
    members[`handler_${verb}`] = ((command, callback) => {
      const refusal = guard(conn, commandArguments(command));
      if (!refusal) return (original as Handler).call(conn, command, callback);
      conn.send(refusal[0], refusal[1]);
      callback();
    }) satisfies Handler;
  }
  members.handler_EXPN = ((_command, callback) => {
    conn.send(502, '5.5.1 EXPN not implemented');
    callback();
  }) satisfies Handler;

  const parse = conn._parseAddressCommand;
  if (typeof parse === 'function') {
    conn._parseAddressCommand = (name, command) => {
      const line = String(command);
      const quoted = protectQuotedSpaces(line);
      const parsed = parse.call(conn, name, quoted ? quoted.line : line);
      if (parsed) {
        if (quoted) parsed.address = quoted.restore(parsed.address);
        const path = pathOfCommand(line);
        if (path !== undefined) rawPaths.set(parsed, path);
      }
      return parsed;
    };
  }
}
