/**
 * Line framing as a pure state machine: bytes in → complete lines out, with a hard maximum line
 * length. A line that grows past the limit is reported once as an overflow and its remaining bytes
 * are discarded up to the next LF, so a hostile client can never make us buffer more than
 * `maxLineLength` bytes. Both CRLF and bare LF end a line (RFC 1123's robustness advice); the
 * terminator is stripped.
 *
 * A bare CR ends nothing, unless the optional `bareCR` hook says the text before it is a complete
 * line (FTP: an ABOR whose LF was sent as TCP urgent data never gets its LF). A LF arriving right
 * after such a line is then dropped instead of ending an empty line.
 */
export type LineItem = { line: Buffer } | { overflow: true } | { runaway: true };

/** The line that `head` (the text before a CR not followed by LF) completes, or undefined. */
export type BareCrHook = (head: Buffer) => Buffer | undefined;

/** The line framing state machine: feed it bytes, take complete lines (see the module comment). */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;
  private discarded = 0;
  private skipLF = false;

  /**
   * `maxDiscard`: bytes of one overlong line discarded before it is reported as a `runaway` (once)
   * — no line protocol has megabyte lines, so its sender is not speaking the protocol (default
   * 1 MiB; 0 = never).
   */
  constructor(
    readonly maxLineLength: number,
    private readonly bareCR?: BareCrHook,
    readonly maxDiscard = 1024 * 1024,
  ) {}

  /** Bytes currently held waiting for a line end. */
  get buffered(): number {
    return this.size;
  }

  /** Feed a chunk; returns the items it completes, in order. */
  push(chunk: Buffer): LineItem[] {
    const out: LineItem[] = [];
    let start = 0;
    if (this.skipLF && chunk.length > 0) {
      this.skipLF = false;
      if (chunk[0] === 10) start = 1;
    }
    while (start < chunk.length) {
      const lf = chunk.indexOf(10, start);
      const end = lf === -1 ? chunk.length : lf;
      if (this.discarding) {
        const before = this.discarded;
        this.discarded += end - start;
        if (this.maxDiscard > 0 && before <= this.maxDiscard && this.discarded > this.maxDiscard)
          out.push({ runaway: true });
        if (lf === -1) return out;
        this.discarding = false;
        this.discarded = 0;
        start = lf + 1;
        continue;
      }
      const piece = chunk.subarray(start, end);
      // +1 allows a trailing CR that belongs to the terminator
      if (this.size + piece.length > this.maxLineLength + 1) {
        const held = this.size + piece.length;
        this.parts = [];
        this.size = 0;
        out.push({ overflow: true });
        if (lf === -1) {
          this.discarding = true;
          this.discarded = held;
          return out;
        }
        start = lf + 1;
        continue;
      }
      const early = this.bareCR ? this.lineAtBareCR(piece, lf === -1) : undefined;
      if (early) {
        out.push({ line: early.line });
        start += early.consumed;
        this.skipLF = start === chunk.length;
        continue;
      }
      if (lf === -1) {
        this.parts.push(Buffer.from(piece));
        this.size += piece.length;
        return out;
      }
      let line = this.parts.length ? Buffer.concat([...this.parts, piece]) : piece;
      this.parts = [];
      this.size = 0;
      if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      if (line.length > this.maxLineLength) out.push({ overflow: true });
      else out.push({ line: Buffer.from(line) });
      start = lf + 1;
    }
    return out;
  }

  /**
   * The unterminated text held at the end of the input (a trailing CR dropped), or undefined; the
   * splitter is empty afterwards. For protocols where a last line without its newline still counts.
   */
  takeRest(): Buffer | undefined {
    const rest = this.discarding || this.size === 0 ? undefined : Buffer.concat(this.parts);
    this.reset();
    if (rest && rest[rest.length - 1] === 13) return rest.subarray(0, rest.length - 1);
    return rest;
  }

  /** Forget everything buffered (used after a TLS upgrade: pipelined plaintext must not survive). */
  reset(): void {
    this.parts = [];
    this.size = 0;
    this.discarding = false;
    this.discarded = 0;
    this.skipLF = false;
  }

  /**
   * The line the hook completes at the piece's first CR that no LF follows (the CR ends what has
   * arrived, or another byte follows it); `consumed` counts the piece's bytes up to the CR.
   */
  private lineAtBareCR(piece: Buffer, atEnd: boolean): { line: Buffer; consumed: number } | undefined {
    const cr = piece.indexOf(13);
    if (cr === -1 || (cr === piece.length - 1 && !atEnd)) return undefined;
    const head = this.parts.length
      ? Buffer.concat([...this.parts, piece.subarray(0, cr)])
      : piece.subarray(0, cr);
    const line = this.bareCR!(head);
    if (!line) return undefined;
    this.parts = [];
    this.size = 0;
    return { line: Buffer.from(line), consumed: cr + 1 };
  }
}
