/**
 * Durable Maildir delivery as the SMTP server uses it (maildir.ts, dir-sync.ts): one synchronous
 * write for a message that fits {@link SINGLE_WRITE_BYTES}, streamed writes and an fsync beyond,
 * the size reported without a stat, nothing left behind when the message fails, unique names
 * under concurrency, and the directory fsync that is shared and never keeps its descriptor idle;
 * and the order messages are listed in (delivery order, as Dovecot numbers them).
 */
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectorySync } from '../../src/core/dir-sync.js';
import { Maildir, SINGLE_WRITE_BYTES } from '../../src/mail/maildir.js';
import { listMaildir } from '../../src/mail/maildir-listing.js';
import { MailStore, receivedHeader } from '../../src/mail/smtp-delivery.js';
import { tempDir } from '../helpers/net.js';

async function* chunksOf(data: Buffer, size: number, failAfter?: number): AsyncGenerator<Buffer> {
  let sent = 0;
  for (let at = 0; at < data.length; at += size) {
    if (failAfter !== undefined && sent >= failAfter) throw new Error('client went away');
    const chunk = data.subarray(at, at + size);
    sent += chunk.length;
    yield chunk;
  }
}

/** Distinct bytes, so a chunk written twice or in the wrong order would show. */
function pattern(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 7 + (i >> 10)) & 0xff;
  return b;
}

async function withMaildir(fn: (md: Maildir, dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir('netkit-maildir-');
  try {
    await fn(Maildir.open(dir, 'bob'), dir);
  } finally {
    await cleanup();
  }
}

const names = (md: Maildir, folder: 'tmp' | 'new') => readdir(path.join(md.dir, folder));

describe('Maildir.deliver', () => {
  it('stores a Buffer, reports its size, leaves nothing in tmp/', async () => {
    await withMaildir(async (md) => {
      const msg = Buffer.from('Subject: one\r\n\r\nbody\r\n');
      const written = { bytes: -1 };
      const id = await md.deliver(msg, written);
      expect(written.bytes).toBe(msg.length);
      expect(await names(md, 'new')).toEqual([id]);
      expect(await names(md, 'tmp')).toEqual([]);
      expect(await md.read(id)).toEqual(msg);
    });
  });

  it.each([
    ['within one write', 10_240 + 123],
    ['exactly the single-write size', SINGLE_WRITE_BYTES],
    ['streamed over several writes', SINGLE_WRITE_BYTES * 2 + 4097],
  ])('stores an async stream %s byte for byte', async (_label, size) => {
    await withMaildir(async (md) => {
      const msg = pattern(size);
      const written = { bytes: 0 };
      const id = await md.deliver(chunksOf(msg, 4000), written);
      expect(written.bytes).toBe(size);
      expect((await md.read(id)).equals(msg)).toBe(true);
      expect(await names(md, 'tmp')).toEqual([]);
    });
  });

  it('stores an empty message as an empty file', async () => {
    await withMaildir(async (md) => {
      const written = { bytes: -1 };
      const id = await md.deliver(chunksOf(Buffer.alloc(0), 10), written);
      expect(written.bytes).toBe(0);
      expect((await md.read(id)).length).toBe(0);
    });
  });

  it.each([
    ['before anything was written', 8000],
    ['after a streamed write', SINGLE_WRITE_BYTES + 8000],
  ])('leaves neither tmp/ nor new/ behind when the stream fails %s', async (_label, failAfter) => {
    await withMaildir(async (md) => {
      const msg = pattern(SINGLE_WRITE_BYTES * 3);
      await expect(md.deliver(chunksOf(msg, 4000, failAfter))).rejects.toThrow('client went away');
      expect(await names(md, 'tmp')).toEqual([]);
      expect(await names(md, 'new')).toEqual([]);
    });
  });

  it('gives concurrent deliveries distinct names and stores each one whole', async () => {
    await withMaildir(async (md) => {
      const msgs = Array.from({ length: 60 }, (_, i) =>
        Buffer.from(`Subject: m${i}\r\n\r\n${'x'.repeat(i * 97)}\r\n`),
      );
      const ids = await Promise.all(msgs.map((m, i) => md.deliver(i % 2 ? m : chunksOf(m, 50))));
      expect(new Set(ids).size).toBe(msgs.length);
      expect((await names(md, 'new')).sort()).toEqual([...ids].sort());
      for (let i = 0; i < ids.length; i++) expect((await md.read(ids[i]!)).equals(msgs[i]!)).toBe(true);
    });
  });
});

describe('MailStore.deliver', () => {
  it('reports the stored size of every copy, our header included', async () => {
    const { dir, cleanup } = await tempDir('netkit-store-');
    try {
      const store = new MailStore(dir);
      const body = pattern(30_000);
      const copies = await store.deliver(['bob', 'carol'], chunksOf(body, 1000));
      expect(copies.map((c) => [c.mailbox, c.size])).toEqual([
        ['bob', body.length],
        ['carol', body.length],
      ]);
      for (const c of copies) {
        const stored = await readFile(path.join(dir, 'mail', c.mailbox, 'new', c.id));
        expect(stored.equals(body)).toBe(true);
      }
    } finally {
      await cleanup();
    }
  });
});

describe('DirectorySync', () => {
  it('shares fsyncs between concurrent callers and holds no descriptor once idle', async () => {
    const { dir, cleanup } = await tempDir('netkit-dirsync-');
    try {
      const ds = new DirectorySync(dir);
      await Promise.all(Array.from({ length: 50 }, () => ds.sync()));
      expect(ds.holdsDescriptor).toBe(false);
      // and it still works after going idle
      await ds.sync();
      expect(ds.holdsDescriptor).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('rejects when the directory cannot be synced, and recovers once it can', async () => {
    const { dir, cleanup } = await tempDir('netkit-dirsync-');
    try {
      const ds = new DirectorySync(path.join(dir, 'missing'));
      const results = await Promise.allSettled([ds.sync(), ds.sync(), ds.sync()]);
      for (const r of results) expect(r.status).toBe('rejected');
      expect(ds.holdsDescriptor).toBe(false);
      await mkdir(path.join(dir, 'missing'));
      await expect(ds.sync()).resolves.toBeUndefined();
    } finally {
      await cleanup();
    }
  });
});

describe('receivedHeader without a date', () => {
  it('stamps the current time in RFC 5322 form', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const h = receivedHeader({
      from: 'a@x',
      to: ['b@y'],
      helo: 'h',
      remoteAddress: '127.0.0.1',
      serverName: 'mx',
      protocol: 'ESMTP',
      id: 'i',
    }).toString();
    const after = Date.now();
    const m = /;\r\n\t(.+) \+0000\r\n$/.exec(h);
    expect(m).not.toBeNull();
    const stamped = Date.parse(`${m![1]} GMT`);
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThanOrEqual(after);
  });
});

describe('delivery order', () => {
  it('names sequential deliveries with strictly increasing times, so they sort as they arrived', async () => {
    await withMaildir(async (md) => {
      // many deliveries within the same milliseconds (the names once had random microseconds)
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) ids.push(await md.deliver(Buffer.from(`m${i}\r\n`)));
      const times = ids.map((id) => {
        const m = /^(\d+)\.M(\d{6})P/.exec(id);
        expect(m, id).not.toBeNull();
        return Number(m![1]) * 1e6 + Number(m![2]);
      });
      for (let i = 1; i < times.length; i++) expect(times[i]!, ids[i]).toBeGreaterThan(times[i - 1]!);
      expect(Math.abs(times[0]! / 1000 - Date.now())).toBeLessThan(60_000);
      const listed = (await md.list()).map((e) => e.id);
      expect(listed).toEqual(ids);
      expect((await listMaildir(md.dir)).map((e) => e.id)).toEqual(ids);
    });
  });

  it('orders by the time in the name (as Dovecot does), by mtime for a name without one, then by name', async () => {
    await withMaildir(async (md) => {
      const newDir = path.join(md.dir, 'new');
      const put = async (name: string, mtimeSeconds: number) => {
        await writeFile(path.join(newDir, name), 'x\r\n');
        await utimes(path.join(newDir, name), mtimeSeconds, mtimeSeconds);
      };
      await rm(path.join(newDir, await md.deliver(Buffer.from('creates the folders\r\n'))));
      // the name says which came first, whatever the files' modification times say
      await put('1700000000.M000200P1Q2.host', 1_700_000_000);
      await put('1700000000.M000100P1Q1.host', 1_700_000_005);
      await put('1700000001.M5P1Q3.host', 1_699_999_000);
      // another MDA's name: seconds only (microseconds 0)
      await put('1700000000.4242_1.other', 1_600_000_000);
      // no time in the name: its mtime places it
      await put('dropped-by-hand', 1_700_000_000.5);
      // equal times: by name
      await put('1700000002.M000001P1Q9.b', 1);
      await put('1700000002.M000001P1Q9.a', 2);
      const expected = [
        '1700000000.4242_1.other',
        '1700000000.M000100P1Q1.host',
        '1700000000.M000200P1Q2.host',
        'dropped-by-hand',
        '1700000001.M5P1Q3.host',
        '1700000002.M000001P1Q9.a',
        '1700000002.M000001P1Q9.b',
      ];
      expect((await md.list()).map((e) => e.id)).toEqual(expected);
      expect((await listMaildir(md.dir)).map((e) => e.id)).toEqual(expected);
    });
  });
});
