/**
 * Envelope addresses where smtp-server's parser falls short, as pure functions:
 *
 * - Quoted local parts (RFC 5321 §4.1.2 `Quoted-string`). smtp-server splits MAIL/RCPT lines at
 *   whitespace, so `<"a b"@x>` is cut in two and refused with 501. {@link protectQuotedSpaces}
 *   hides those spaces from it and gives them back afterwards; {@link unquoteLocalPart} removes
 *   the quoting (`"bob"` is the same mailbox as `bob`, RFC 5321 §2.4).
 * - The path as the client wrote it ({@link pathOfCommand}). smtp-server turns an A-label domain
 *   (`xn--bcher-kva.example`) into Unicode, so whether the client itself sent a non-ASCII address
 *   (which needs SMTPUTF8, RFC 6531 §3.4) is only visible in the raw command.
 */

/** Stands for a space inside a quoted local part while smtp-server parses the line (Unicode private use). */
const SPACE_STANDIN = '\uE000';

/**
 * Replace the spaces of a quoted local part in a MAIL/RCPT command line by a stand-in, so that
 * smtp-server's parser keeps the path whole; `restore` puts them back into the parsed address.
 * Undefined when there is nothing to protect (or the line already holds the stand-in).
 */
export function protectQuotedSpaces(
  line: string,
): { line: string; restore: (address: string) => string } | undefined {
  if (line.includes(SPACE_STANDIN)) return undefined;
  // only the path (the first `<…>` of the line) can hold a quoted local part
  const open = line.indexOf('<');
  if (open === -1 || line[open + 1] !== '"') return undefined;
  let out = '';
  let i = open + 2;
  for (; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      const next = line[++i]!;
      out += `\\${next === ' ' ? SPACE_STANDIN : next}`;
    } else if (c === '"') break;
    else out += c === ' ' ? SPACE_STANDIN : c;
  }
  // not a quoted local part: no closing quote, or no `@` right after it
  if (i >= line.length || line[i + 1] !== '@' || !out.includes(SPACE_STANDIN)) return undefined;
  return {
    line: `${line.slice(0, open + 2)}${out}${line.slice(i)}`,
    restore: (address) => address.replaceAll(SPACE_STANDIN, ' '),
  };
}

/** The path between `<` and `>` of a MAIL/RCPT command line, as sent; undefined when there is none. */
export function pathOfCommand(line: string): string | undefined {
  return /<([^<>]*)>/.exec(line)?.[1];
}

/** Split an address at its last `@` (a quoted local part cannot hold one past smtp-server's parser). */
export function splitAddress(address: string): { local: string; domain: string | undefined } {
  const at = address.lastIndexOf('@');
  return at === -1
    ? { local: address, domain: undefined }
    : { local: address.slice(0, at), domain: address.slice(at + 1) };
}

export function isQuoted(local: string): boolean {
  return local.length >= 2 && local.startsWith('"') && local.endsWith('"');
}

/**
 * The text of a quoted local part (`"a\"b"` → `a"b`); an unquoted one is returned unchanged.
 * Undefined when the quoting is broken (a bare `"` inside, a trailing backslash).
 */
export function unquoteLocalPart(local: string): string | undefined {
  if (!isQuoted(local)) return local;
  let out = '';
  for (let i = 1; i < local.length - 1; i++) {
    const c = local[i]!;
    if (c === '"') return undefined;
    if (c === '\\') {
      if (i + 1 >= local.length - 1) return undefined;
      out += local[++i];
    } else out += c;
  }
  return out;
}

/** Only US-ASCII: an address that needs no SMTPUTF8. */
export function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}
