/**
 * Header text is bytes. undici hands response header values over as Latin-1 strings (one
 * character per byte) and writes request headers the same way, so a non-ASCII value is a byte
 * string, not text: printing it as text (UTF-8) would encode every byte above 0x7F a second time.
 * These helpers convert at the edges: to bytes for output and files, to text for the screen.
 */

const HIGH_BYTES = /[\x80-\xff]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes of a Latin-1 byte string (what the server sent). */
export function byteStringToBuffer(text: string): Buffer {
  return Buffer.from(toByteString(text), 'latin1');
}

/** A byte string read as text: UTF-8 when its bytes are valid UTF-8, else Latin-1 as it is. */
export function byteStringToText(text: string): string {
  if (!HIGH_BYTES.test(text) || /[^\x00-\xff]/.test(text)) return text;
  try {
    return utf8.decode(Buffer.from(text, 'latin1'));
  } catch {
    return text;
  }
}

/** Characters beyond Latin-1 (not bytes: a caller's own text) become their UTF-8 bytes. */
export function toByteString(text: string): string {
  return text.replace(/[^\x00-\xff]+/gu, (s) => Buffer.from(s, 'utf8').toString('latin1'));
}

/** Bytes above 0x7F percent-encoded as they are, as curl sends a raw Location: UTF-8 ü → %C3%BC. */
export function percentEncodeHighBytes(text: string): string {
  return toByteString(text).replace(
    /[\x80-\xff]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}
