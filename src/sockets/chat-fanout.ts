/**
 * Per-tick write coalescing for chat fan-out.
 *
 * Relaying a line to every member of a room with one `socket.write()` per line per member costs
 * O(lines × members) calls into the stream machinery. Instead, everything a room emits during one
 * turn of the event loop is queued as segments, and at the end of the turn (`setImmediate`, i.e.
 * after every socket that was readable in this poll has been read) each member gets ONE write:
 *
 * - the segments meant for everyone are concatenated and encoded once into a shared Buffer that is
 *   written to every ordinary member (no per-member copy in JavaScript);
 * - "special" members — the ones excluded from a segment (the sender of a line does not get it
 *   back) or the only target of one (a reply, a private message) — get their own selection,
 *   joined into one string and written once.
 *
 * This is the `cork()`/`uncork()` idea (many small writes leave as one) done before the stream
 * sees the data: an earlier version corked each special member and wrote its segments one by one,
 * and that `writev` of thousands of small strings was about a third of the server's CPU in the
 * `chat` benchmark. Joining first costs one string concatenation instead.
 *
 * Order is preserved for every member, because replies travel in the same segment list as the
 * room's lines. A member that moves to another room must be flushed first (the server does that).
 *
 * A turn's batch is also flushed early once it holds `FLUSH_BYTES`: a burst (one read can bring
 * hundreds of lines) then reaches each socket in pieces of bounded size, so a healthy member is
 * never mistaken for one that stopped reading. The bytes a member may have queued are bounded by
 * the socket's own limit (LineConnection's `maxOutboundBytes`): every write here goes through it.
 */

/** Flush a room's batch early once it holds this many characters (one socket read's worth). */
export const FLUSH_BYTES = 64 * 1024;

export interface FanoutMember {
  /** write one already-framed chunk; false when the member has been dropped */
  write(data: string | Buffer): boolean;
}

interface Segment<M> {
  text: string;
  /** only this member receives it */
  only?: M;
  /** everyone but this member receives it */
  except?: M;
}

export class FanoutRoom<M extends FanoutMember> {
  readonly members = new Set<M>();
  private segments: Array<Segment<M>> = [];
  private size = 0;

  constructor(private readonly schedule: (room: FanoutRoom<M>) => void) {}

  /** Queue text for every member, or every member but `except`. */
  broadcast(text: string, except?: M): void {
    this.push(except ? { text, except } : { text });
  }

  /** Queue text for one member, in order with the room's other output. */
  direct(member: M, text: string): void {
    this.push({ text, only: member });
  }

  get pending(): boolean {
    return this.segments.length > 0;
  }

  private push(seg: Segment<M>): void {
    if (this.segments.length === 0) this.schedule(this);
    this.segments.push(seg);
    this.size += seg.text.length;
    if (this.size >= FLUSH_BYTES) this.flush();
  }

  /** Write everything queued; called once per tick by the scheduler (or early, before a move). */
  flush(): void {
    const segs = this.segments;
    if (segs.length === 0) return;
    this.segments = [];
    this.size = 0;
    const special = new Set<M>();
    const shared: string[] = [];
    for (const s of segs) {
      if (s.only) special.add(s.only);
      else {
        shared.push(s.text);
        if (s.except) special.add(s.except);
      }
    }
    if (shared.length > 0) {
      const buf = Buffer.from(shared.length === 1 ? shared[0]! : shared.join(''), 'utf8');
      for (const m of this.members) if (!special.has(m)) m.write(buf);
    }
    for (const m of special) {
      if (!this.members.has(m)) continue;
      const mine: string[] = [];
      for (const s of segs) if (s.only ? s.only === m : s.except !== m) mine.push(s.text);
      if (mine.length > 0) m.write(mine.length === 1 ? mine[0]! : mine.join(''));
    }
  }
}
