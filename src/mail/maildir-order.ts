/**
 * The order of the messages in a Maildir: oldest delivery first, as Dovecot numbers them. The
 * time of a delivery is the one in its file name (`SECONDS.M<microseconds>P…`, written by the
 * delivering process when the message arrived); a name without one (a file some other tool
 * dropped in) counts by its modification time. Equal times go by name.
 *
 * Why not the modification time alone: two messages that arrive in the same instant finish
 * writing in either order, so the later-named one can carry the earlier mtime, and POP3 message
 * numbers would then differ from Dovecot's on the same Maildir (Timo Sirainen: "qmail-pop3d sorts
 * by mtime, while Dovecot sorts by filename").
 */

/** `SECONDS.` at the start of a Maildir name, and `M<microseconds>` in the part before the next dot. */
const NAME_TIME = /^(\d{1,12})\.(?:[^.]*?M(\d{1,6})(?=\D|$))?/;

/** A delivery time in microseconds since the epoch, from the name or else the mtime. */
function deliveredAtUs(id: string, mtimeMs: number): number {
  const m = NAME_TIME.exec(id);
  if (!m) return Math.round(mtimeMs * 1000);
  return Number(m[1]) * 1_000_000 + (m[2] === undefined ? 0 : Number(m[2]));
}

/** Sort `entries` in place into delivery order (see the module comment) and return them. */
export function sortByDelivery<T extends { id: string; mtimeMs: number }>(entries: T[]): T[] {
  const at = new Map<T, number>();
  for (const e of entries) at.set(e, deliveredAtUs(e.id, e.mtimeMs));
  return entries.sort((a, b) => at.get(a)! - at.get(b)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
