/**
 * A parsed message's headers as postal-mime lists them (lower-case keys), declared apart from
 * postal-mime: its declaration files name the DOM's TextEncoder, so a public signature that
 * imports postal-mime's types would not compile for a strict library user (see parsed-email.ts).
 */
export interface HeaderSource {
  headers: ReadonlyArray<{ key: string; value: string }>;
}
