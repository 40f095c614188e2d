/**
 * postal-mime, with attachments that end where the sender's file ended.
 *
 * postal-mime decodes a part sent as text (7bit, 8bit, binary or quoted-printable) line by line and
 * puts a "\n" after every line, the last one included. In a multipart that last line break is not
 * the part's: it belongs to the boundary that follows (RFC 2046 §5.1.1). So a `notes.txt` or a
 * `data.csv` that mutt, Python or git attached unencoded was saved one "\n" longer than the file sent
 * (an extra empty line, another checksum), where Python's email gives the file's bytes. Base64 parts
 * are exact already.
 *
 * postal-mime does not tell how a part was encoded, so its per-attachment step — an internal method,
 * `collectAttachment(node, content, …)` — is wrapped to hand it the content without that line break.
 * A forwarded message (a message/rfc822 part postal-mime shows inline) is read by a parser postal-mime
 * makes itself, which no wrap on our parser instance reaches; so the wrap is on the prototype, and
 * acts only inside {@link parseMime}'s async context (AsyncLocalStorage), which the nested parsers run
 * in too: a PostalMime used anywhere else in the process sees postal-mime's own behaviour. Should a
 * later postal-mime lack that method, the wrap is not made and contents stay as postal-mime gives them
 * (the tests comparing with Python's email would say so). Taken too far: a quoted-printable part
 * whose last line ends in a soft line break (`…=0A=`) gets no "\n" added, so loses its own last one —
 * an encoding no encoder we know of writes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import PostalMime, { type Email } from 'postal-mime';

/** What the wrapper reads of postal-mime's part node. */
interface PartNode {
  parentNode?: unknown;
  contentTransferEncoding?: { encoding?: string };
}

type CollectAttachment = (node: PartNode, content: ArrayBuffer, ...rest: unknown[]) => void;

/** Is `node` a part of a multipart whose content postal-mime decoded line by line (not base64)? */
function endsBeforeBoundary(node: PartNode): boolean {
  return node.parentNode !== undefined && !/base64/i.test(node.contentTransferEncoding?.encoding ?? '');
}

/** `content` without its last byte when that is the "\n" postal-mime added. */
function withoutAddedBreak(content: ArrayBuffer): ArrayBuffer {
  const bytes = new Uint8Array(content);
  return bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? content.slice(0, -1) : content;
}

/** Where the prototype keeps the context its wrap reads: one wrap however often this module loads. */
const WRAPPED = Symbol.for('netkit.mime-parse.exact-attachments');

interface Prototype {
  collectAttachment?: CollectAttachment;
  [WRAPPED]?: AsyncLocalStorage<true>;
}

/** Wrap postal-mime's `collectAttachment` to act in the context returned, set while parseMime runs. */
function wrapCollectAttachment(prototype: Prototype): AsyncLocalStorage<true> {
  const context = new AsyncLocalStorage<true>();
  const collect = prototype.collectAttachment;
  if (typeof collect === 'function') {
    prototype.collectAttachment = function (this: unknown, node, content, ...rest) {
      const ends = context.getStore() === true && content instanceof ArrayBuffer && endsBeforeBoundary(node);
      collect.call(this, node, ends ? withoutAddedBreak(content) : content, ...rest);
    };
  }
  return context;
}

/**
 * Shared by every copy of this module in the process (the CLI bundle and the sources, a test runner's
 * fresh module graphs over one postal-mime), so a content is never cut twice.
 */
const prototype = PostalMime.prototype as unknown as Prototype;
const exactAttachments = (prototype[WRAPPED] ??= wrapCollectAttachment(prototype));

/**
 * Parse a message as `PostalMime.parse` does, attachment contents ending where the part ends, in the
 * message and in every message forwarded inside it.
 */
export function parseMime(raw: Buffer): Promise<Email> {
  return exactAttachments.run(true, () => new PostalMime({ attachmentEncoding: 'arraybuffer' }).parse(raw));
}
