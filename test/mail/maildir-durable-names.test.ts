/**
 * A mailbox created by its first delivery: the names of its directories are fsynced (the mailbox
 * itself, `mail/` and the data directory), once; later deliveries fsync only `new/`.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/net.js';

const synced: string[] = [];
vi.mock('../../src/core/dir-sync.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/core/dir-sync.js')>();
  return {
    ...real,
    fsyncDir: async (dir: string) => {
      synced.push(dir);
      await real.fsyncDir(dir);
    },
  };
});

const { Maildir } = await import('../../src/mail/maildir.js');

describe('Maildir: a new mailbox is durable', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('netkit-maildir-names-'));
  });
  afterAll(() => cleanup());

  it('fsyncs the mailbox, mail/ and the data directory on the first delivery only', async () => {
    const data = path.join(dir, 'data');
    const md = Maildir.open(data, 'fresh');
    await md.deliver(Buffer.from('Subject: 1\r\n\r\none\r\n'));
    expect(synced).toEqual(expect.arrayContaining([md.dir, path.join(data, 'mail'), data]));
    const first = synced.length;
    await md.deliver(Buffer.from('Subject: 2\r\n\r\ntwo\r\n'));
    // another instance on the existing mailbox (a new session) creates nothing, syncs nothing more
    await Maildir.open(data, 'fresh').deliver(Buffer.from('Subject: 3\r\n\r\nthree\r\n'));
    expect(synced.length).toBe(first);
    expect(await md.list()).toHaveLength(3);
  });
});
