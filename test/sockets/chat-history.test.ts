/**
 * The persisted chat history (`DATA/chat/history.jsonl`): a long-running server rewrites the file
 * from memory once it has grown past its limit, without losing or duplicating a line said during
 * the rewrite, and a restart reads back exactly what memory held.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatHistory, type ChatMessage, historyNeedsCompaction } from '../../src/sockets/chat-history.js';
import { tempDir } from '../helpers/net.js';

const message = (i: number): ChatMessage => ({
  ts: 1_700_000_000_000 + i,
  room: i % 2 === 0 ? 'lobby' : 'dev',
  nick: 'bot',
  text: `line ${i}`,
  kind: 'say',
  via: 'api',
});

async function fileLines(dir: string): Promise<ChatMessage[]> {
  const text = await readFile(path.join(dir, 'chat', 'history.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ChatMessage);
}

describe('chat history file', () => {
  it('is compacted while the server runs, not only at the next start', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const h = await ChatHistory.persistent(dir, 3);
      // a long-running room: many more lines than are kept, a rewrite finishing now and then
      for (let i = 0; i < 2000; i++) {
        h.add(message(i));
        if (i % 50 === 0) await h.settled();
      }
      await h.close();
      const lines = await fileLines(dir);
      expect(historyNeedsCompaction(lines.length, 6)).toBe(false);
      // the newest lines are all there, each once, in order
      const texts = lines.map((m) => m.text);
      expect(new Set(texts).size).toBe(texts.length);
      expect(texts.slice(-6)).toEqual([1994, 1995, 1996, 1997, 1998, 1999].map((i) => `line ${i}`));
      // the rewrite went through a temporary file that is gone
      expect(await readdir(path.join(dir, 'chat'))).toEqual(['history.jsonl']);
      const again = await ChatHistory.persistent(dir, 3);
      expect(again.get('lobby').map((m) => m.text)).toEqual(['line 1994', 'line 1996', 'line 1998']);
      expect(again.get('dev').map((m) => m.text)).toEqual(['line 1995', 'line 1997', 'line 1999']);
      await again.close();
    } finally {
      await cleanup();
    }
  });

  it('keeps the lines said during a rewrite, after it, each once', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const h = await ChatHistory.persistent(dir, 2);
      // one burst: 4 kept, so the rewrite starts at the 109th line while the others keep coming
      for (let i = 0; i < 200; i++) h.add(message(i));
      await h.settled();
      await h.close();
      const texts = (await fileLines(dir)).map((m) => m.text);
      expect(new Set(texts).size).toBe(texts.length);
      // the rewrite kept the last two of each room at that point; everything after it follows
      expect(texts).toEqual(Array.from({ length: 200 - 105 }, (_, k) => `line ${105 + k}`));
    } finally {
      await cleanup();
    }
  });

  it('holds no more lines during a rewrite than it keeps: a room busier than the disk is written from memory again', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const h = await ChatHistory.persistent(dir, 2);
      // a rewrite (fsync) starts at the 109th line; 100,000 more come before it can finish
      let most = 0;
      for (let i = 0; i < 100_000; i++) {
        h.add(message(i));
        most = Math.max(most, h.pendingLines);
      }
      expect(historyNeedsCompaction(most, 4)).toBe(false);
      await h.settled();
      await h.close();
      const texts = (await fileLines(dir)).map((m) => m.text);
      expect(texts).toEqual(['line 99996', 'line 99997', 'line 99998', 'line 99999']);
      const again = await ChatHistory.persistent(dir, 2);
      expect(again.get('lobby').map((m) => m.text)).toEqual(['line 99996', 'line 99998']);
      await again.close();
    } finally {
      await cleanup();
    }
  });

  it('writes nothing with history turned off (--history 0)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const h = await ChatHistory.persistent(dir, 0);
      for (let i = 0; i < 300; i++) h.add(message(i));
      await h.close();
      expect(await fileLines(dir)).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});
