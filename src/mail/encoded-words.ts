/**
 * RFC 2047 encoded words as `mail show` and the dashboard read them: postal-mime decodes them, except
 * that a word it cannot decode is kept as written instead of shown as nothing. Its own module, and
 * kept out of the public types: its functions take postal-mime's `Email`, whose declarations do not
 * compile in a strict consumer without the DOM library.
 */
import { addressParser, decodeWords, type Email } from 'postal-mime';
import type { HeaderSource } from './header-source.js';

/**
 * A B encoded word of one base64 character (`=?UTF-8?B?S?=`) cannot hold a byte: postal-mime decodes
 * it to nothing, so a subject or a display name made of it would show empty. Python's email shows
 * the word's text instead, and so do we: the word becomes a Q word of that text, so it still is an
 * encoded word (the space between it and a neighbouring one goes, as in Python) and what it puts
 * back cannot change how an address header parses. A longer truncated word keeps what it decodes
 * to, which is every byte it holds (Python shows the text there too).
 */
const UNDECODABLE_B_WORD = /=\?[^?\s]+\?[Bb]\?([A-Za-z0-9+/]=*)\?=/g;

/** {@link UNDECODABLE_B_WORD} for a test (no `g` flag: no lastIndex to carry between calls) */
const HAS_UNDECODABLE_B_WORD = new RegExp(UNDECODABLE_B_WORD.source);

const keepUndecodableWords = (value: string): string =>
  value.replace(UNDECODABLE_B_WORD, (_word, text: string) => `=?US-ASCII?Q?${text.replace(/=/g, '=3D')}?=`);

/** A header value with its RFC 2047 words decoded, an undecodable word kept as written. */
export function decodeHeaderWords(value: string): string {
  return decodeWords(keepUndecodableWords(value));
}

/** The values of every `key` header (lower case), undecodable words kept as written. */
export function headerValues(email: HeaderSource, key: string): string[] {
  return email.headers.filter((h) => h.key === key && h.value).map((h) => keepUndecodableWords(h.value));
}

/**
 * postal-mime's own result with its Subject, From, To and Cc read as `mail show`
 * (message-view.ts) reads them where they hold an undecodable word (which postal-mime shows as nothing); for the lab, which
 * hands postal-mime's shape to the dashboard.
 */
export function keepingUndecodableWords(email: Email): Email {
  const undecodable = (key: string) =>
    email.headers.some((h) => h.key === key && HAS_UNDECODABLE_B_WORD.test(h.value));
  if (undecodable('subject')) email.subject = decodeWords(headerValues(email, 'subject')[0]!);
  if (undecodable('from')) {
    const from = addressParser(headerValues(email, 'from')[0]!)[0];
    if (from) email.from = from;
  }
  for (const key of ['to', 'cc'] as const) {
    if (undecodable(key)) email[key] = headerValues(email, key).flatMap((v) => addressParser(v));
  }
  return email;
}
