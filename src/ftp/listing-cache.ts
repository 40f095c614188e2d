/**
 * A very short-lived cache of formatted directory listings, the idea of nginx's `open_file_cache`:
 * when many clients list the same directory at once (a popular mirror directory, the ftpbench
 * load), one stat pass serves them all instead of one pass each.
 *
 * Freshness: an entry is used only while the directory's own mtime is unchanged (so any file
 * added, removed or renamed by anyone invalidates it) and for at most `ttlMs` (default 1 s).
 * Every change this server makes (uploads, deletes, renames, mkdir, chmod, mfmt) invalidates the
 * directory at once, so a client always sees its own changes; a file changed in place by another
 * program may show its old size or time for up to `ttlMs`. Concurrent identical requests share one
 * build. `ttlMs` 0 turns caching off.
 */
interface Cached {
  mtimeMs: number;
  at: number;
  lines: Promise<string[]>;
}

export class ListingCache {
  private readonly dirs = new Map<string, Map<string, Cached>>();

  constructor(
    readonly ttlMs = 1000,
    readonly maxDirs = 256,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The listing of real directory `dir` in form `variant` (kind, facts, permissions), built with
   * `build` unless a fresh one is cached. `mtimeMs` is the directory's current mtime.
   */
  get(dir: string, variant: string, mtimeMs: number, build: () => Promise<string[]>): Promise<string[]> {
    if (this.ttlMs <= 0) return build();
    const now = this.now();
    let forms = this.dirs.get(dir);
    const hit = forms?.get(variant);
    if (hit && hit.mtimeMs === mtimeMs && now - hit.at < this.ttlMs) return hit.lines;
    if (!forms) {
      if (this.dirs.size >= this.maxDirs) {
        const oldest = this.dirs.keys().next().value;
        if (oldest !== undefined) this.dirs.delete(oldest);
      }
      forms = new Map();
      this.dirs.set(dir, forms);
    }
    const entry: Cached = { mtimeMs, at: now, lines: build() };
    forms.set(variant, entry);
    const forget = (): void => {
      if (forms.get(variant) !== entry) return;
      forms.delete(variant);
      if (forms.size === 0 && this.dirs.get(dir) === forms) this.dirs.delete(dir);
    };
    entry.lines.catch(forget);
    // a stale listing is never served again: let it go rather than hold a big directory's lines
    // until 256 other directories push it out
    setTimeout(forget, this.ttlMs).unref();
    return entry.lines;
  }

  /** Forget every listing of `dir` (after this server changed something in it). */
  invalidate(dir: string): void {
    this.dirs.delete(dir);
  }
}
