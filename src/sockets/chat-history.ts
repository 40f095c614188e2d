/**
 * Recent chat history: a bounded list per room (replayed to whoever joins), optionally persisted
 * as JSON Lines in `DATA/chat/history.jsonl` so a restarted server still shows the last messages.
 *
 * The file is append-only while the server runs (one line per message, written through a stream so
 * a busy room never waits on the disk). On start it is read back keeping only the last `perRoom`
 * messages of each room; if it holds much more than that it is rewritten atomically, so it never
 * grows without bound across restarts. Reading is capped at the file's last few megabytes.
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

export class ChatHistory {
  private readonly rooms = new Map<string, ChatMessage[]>();
  private stream: fs.WriteStream | undefined;

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
    const lines = await readTail(file);
    let kept = 0;
    for (const line of lines) {
      const msg = parseRecord(line);
      if (msg) h.remember(msg);
    }
    for (const list of h.rooms.values()) kept += list.length;
    if (lines.length > kept * 2 + 100) {
      const body = h.all().map((m) => `${JSON.stringify(m)}\n`);
      await writeFileAtomic(file, body.join(''), 0o600);
    }
    h.stream = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
    h.stream.on('error', () => {
      // a full or read-only disk must not take the chat down; history stays in memory
      h.stream = undefined;
    });
    return h;
  }

  /** Record a message (and append it to the file when persistent). */
  add(msg: ChatMessage): void {
    this.remember(msg);
    this.stream?.write(`${JSON.stringify(msg)}\n`);
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
    this.rooms.delete(room);
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }

  private remember(msg: ChatMessage): void {
    if (this.perRoom <= 0) return;
    let list = this.rooms.get(msg.room);
    if (!list) this.rooms.set(msg.room, (list = []));
    list.push(msg);
    if (list.length > this.perRoom) list.splice(0, list.length - this.perRoom);
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

/** The complete lines of the file's last MAX_READ_BYTES (all of it when smaller). */
async function readTail(file: string): Promise<string[]> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return [];
  }
  const start = Math.max(0, size - MAX_READ_BYTES);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return text.split('\n').filter((l) => l.length > 0);
  } finally {
    await fh.close();
  }
}
