/**
 * Recent chat history: a bounded list per room (replayed to whoever joins), optionally persisted
 * as JSON Lines in `DATA/chat/history.jsonl` so a restarted server still shows the last messages.
 *
 * The file is appended to while the server runs (one line per message, written through a stream so
 * a busy room never waits on the disk). On start it is read back keeping only the last `perRoom`
 * messages of each room. Whenever it holds much more than what is kept (on start, or while a
 * long-running server appends), it is rewritten atomically from memory (temp file, fsync, rename),
 * so it never grows without bound; lines said during a rewrite are appended after it, unless more
 * came than a rewrite would keep: then it is rewritten again from memory instead, so a room busier
 * than the disk (a rewrite waits on fsync) costs what memory keeps, not every line said meanwhile.
 * Reading is capped at the file's last few megabytes.
 */
import fs from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/datadir.js';

export interface ChatMessage {
  /** milliseconds since the epoch */
  ts: number;
  room: string;
  nick: string;
  text: string;
  /** `say` is a normal line, `me` an action (`/me waves`) */
  kind: 'say' | 'me';
  /** where it came from: a TCP client or the headless API (`post()`, e.g. the web dashboard) */
  via: 'tcp' | 'api';
}

const MAX_READ_BYTES = 8 * 1024 * 1024;

/** A file of `lines` lines holding `kept` messages worth keeping is rewritten past this. */
export function historyNeedsCompaction(lines: number, kept: number): boolean {
  return lines > kept * 2 + 100;
}

const record = (msg: ChatMessage) => `${JSON.stringify(msg)}\n`;

export class ChatHistory {
  private readonly rooms = new Map<string, ChatMessage[]>();
  private stream: fs.WriteStream | undefined;
  /** messages held in `rooms` */
  private kept = 0;
  /** lines in the file (appended or rewritten by us), to know when to compact */
  private linesInFile = 0;
  /** the rewrite in progress; lines said meanwhile wait in `pending` */
  private compaction: Promise<void> | undefined;
  private pending: string[] = [];
  /** more lines came during the rewrite than appending them would keep: rewrite once more */
  private rewriteAgain = false;

  private constructor(
    readonly perRoom: number,
    readonly file: string | undefined,
  ) {}

  /** In-memory history only. */
  static memory(perRoom: number): ChatHistory {
    return new ChatHistory(perRoom, undefined);
  }

  /** History persisted in `DATA/chat/history.jsonl`; loads what is there. */
  static async persistent(dataDir: string, perRoom: number): Promise<ChatHistory> {
    const dir = path.join(dataDir, 'chat');
    await ensureDir(dir);
    const file = path.join(dir, 'history.jsonl');
    const h = new ChatHistory(perRoom, file);
    const { lines, truncated } = await readTail(file);
    for (const line of lines) {
      const msg = parseRecord(line);
      if (msg) h.remember(msg);
    }
    h.linesInFile = lines.length;
    if (truncated || historyNeedsCompaction(lines.length, h.kept)) {
      await writeFileAtomic(file, h.all().map(record).join(''), 0o600);
      h.linesInFile = h.kept;
    }
    h.openStream();
    return h;
  }

  /** Record a message (and append it to the file when persistent). */
  add(msg: ChatMessage): void {
    this.remember(msg);
    if (this.file === undefined || this.perRoom <= 0) return;
    if (this.compaction) {
      if (this.rewriteAgain) return;
      this.pending.push(record(msg));
      if (historyNeedsCompaction(this.pending.length, this.kept)) {
        this.pending = [];
        this.rewriteAgain = true;
      }
      return;
    }
    if (!this.stream) return;
    this.stream.write(record(msg));
    this.linesInFile += 1;
    if (historyNeedsCompaction(this.linesInFile, this.kept)) this.compaction = this.compact(this.file);
  }

  /** Lines said during a rewrite that wait in memory to be appended after it. */
  get pendingLines(): number {
    return this.pending.length;
  }

  /** Resolves once a rewrite of the file in progress (if any) is done. */
  async settled(): Promise<void> {
    while (this.compaction) await this.compaction;
  }

  /** The recent messages of a room, oldest first. */
  get(room: string): ChatMessage[] {
    return [...(this.rooms.get(room) ?? [])];
  }

  /** Does this room have any history? */
  has(room: string): boolean {
    return (this.rooms.get(room)?.length ?? 0) > 0;
  }

  /** Rooms that have any history. */
  roomNames(): string[] {
    return [...this.rooms.keys()];
  }

  /** Forget a room's history (when an empty room is evicted). */
  drop(room: string): void {
    this.kept -= this.rooms.get(room)?.length ?? 0;
    this.rooms.delete(room);
  }

  async close(): Promise<void> {
    await this.settled();
    const s = this.stream;
    this.stream = undefined;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }

  private remember(msg: ChatMessage): void {
    if (this.perRoom <= 0) return;
    let list = this.rooms.get(msg.room);
    if (!list) this.rooms.set(msg.room, (list = []));
    list.push(msg);
    this.kept += 1;
    if (list.length > this.perRoom) this.kept -= list.splice(0, list.length - this.perRoom).length;
  }

  private openStream(): void {
    const stream = fs.createWriteStream(this.file!, { flags: 'a', mode: 0o600 });
    stream.on('error', () => {
      // a full or read-only disk must not take the chat down; history stays in memory
      if (this.stream === stream) this.stream = undefined;
    });
    this.stream = stream;
  }

  /**
   * Rewrite the file with what memory keeps (tmp + fsync + rename). The snapshot is taken first;
   * the old stream is finished before the rename (so none of its lines can land in the new file),
   * and the lines said meanwhile are appended to the new file afterwards — or, when more came than
   * appending would keep, the file is rewritten from memory once more instead.
   */
  private async compact(file: string): Promise<void> {
    try {
      let snapshot = this.all().map(record);
      const old = this.stream;
      this.stream = undefined;
      if (old) await new Promise<void>((resolve) => old.end(resolve));
      for (;;) {
        try {
          await writeFileAtomic(file, snapshot.join(''), 0o600);
        } catch {
          // the old file stays as it was; try again after as many lines more
          this.rewriteAgain = false;
        }
        this.linesInFile = snapshot.length;
        if (!this.rewriteAgain) break;
        // more lines came meanwhile than appending would keep (pending was dropped; memory has
        // them): write what memory keeps once more
        this.rewriteAgain = false;
        snapshot = this.all().map(record);
      }
      this.openStream();
      const pending = this.pending.splice(0);
      if (pending.length > 0) {
        this.stream!.write(pending.join(''));
        this.linesInFile += pending.length;
      }
    } finally {
      // whatever failed, lines are never held back for good: later ones go to the stream (or, with
      // none, stay in memory only, as after a disk error)
      this.compaction = undefined;
      this.pending = [];
      this.rewriteAgain = false;
    }
  }

  private all(): ChatMessage[] {
    return [...this.rooms.values()].flat().sort((a, b) => a.ts - b.ts);
  }
}

function parseRecord(line: string): ChatMessage | undefined {
  try {
    const r = JSON.parse(line) as Partial<ChatMessage>;
    if (
      typeof r.ts === 'number' &&
      typeof r.room === 'string' &&
      typeof r.nick === 'string' &&
      typeof r.text === 'string'
    ) {
      return {
        ts: r.ts,
        room: r.room,
        nick: r.nick,
        text: r.text,
        kind: r.kind === 'me' ? 'me' : 'say',
        via: r.via === 'api' ? 'api' : 'tcp',
      };
    }
  } catch {
    // a torn last line after a crash: skip it
  }
  return undefined;
}

/** The complete lines of the file's last MAX_READ_BYTES (all of it when smaller; `truncated` if not). */
async function readTail(file: string): Promise<{ lines: string[]; truncated: boolean }> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return { lines: [], truncated: false };
  }
  const start = Math.max(0, size - MAX_READ_BYTES);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return { lines: text.split('\n').filter((l) => l.length > 0), truncated: start > 0 };
  } finally {
    await fh.close();
  }
}
