// writeStreamAtomic (`netkit http get -o FILE`): a regular file is replaced whole, and a device or
// FIFO is written to, never renamed over (`-o /dev/null` used to replace /dev/null with a file).
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeStreamAtomic } from '../../src/http/atomic-write.js';
import { tempDir } from '../helpers/net.js';

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function scratch(): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return dir;
}

describe('writeStreamAtomic', () => {
  it('replaces a regular file with the whole new content and leaves no temp file', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'out.txt');
    await writeFile(file, 'old content');
    expect(await writeStreamAtomic(chunks('new ', 'body'), file)).toBe(8);
    expect(await readFile(file, 'utf8')).toBe('new body');
    expect(await readdir(dir)).toEqual(['out.txt']);
  });

  it('leaves the old file when the source fails', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'out.txt');
    await writeFile(file, 'old content');
    async function* failing(): AsyncIterable<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('connection reset');
    }
    await expect(writeStreamAtomic(failing(), file)).rejects.toThrow('connection reset');
    expect(await readFile(file, 'utf8')).toBe('old content');
    expect(await readdir(dir)).toEqual(['out.txt']);
  });

  it('writes into a FIFO instead of replacing it', async () => {
    const dir = await scratch();
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // a non-blocking reader lets the writer open the FIFO at once
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      expect(await writeStreamAtomic(chunks('through ', 'the pipe'), fifo)).toBe(16);
      expect((await lstat(fifo)).isFIFO()).toBe(true);
      const buf = Buffer.alloc(64);
      const { bytesRead } = await reader.read(buf, 0, buf.length, null);
      expect(buf.subarray(0, bytesRead).toString()).toBe('through the pipe');
      expect(await readdir(dir)).toEqual(['pipe']);
    } finally {
      await reader.close();
    }
  });

  it('writes through a link to a device (/dev/null) and keeps both', async () => {
    const dir = await scratch();
    const link = path.join(dir, 'sink');
    await symlink('/dev/null', link);
    expect(await writeStreamAtomic(chunks('discarded'), link)).toBe(9);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect((await lstat('/dev/null')).isCharacterDevice()).toBe(true);
  });
});
