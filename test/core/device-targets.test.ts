/**
 * Output named by the user that is a device or a FIFO (`-o /dev/null`, `-c /dev/null`, a named
 * pipe) is written in place. A temp or part file renamed over it would replace it with a regular
 * file — run as root, that replaced /dev/null itself.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/core/datadir.js';
import { FtpClient } from '../../src/ftp/client.js';
import { createFtpServer, type FtpServerHandle } from '../../src/ftp/server.js';
import { tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-device-'));
});
afterAll(async () => cleanup?.());

/** A named pipe at `name` and everything a reader gets from it until the writer closes it. */
function fifoWithReader(name: string): { file: string; read: Promise<Buffer> } {
  const file = path.join(dir, name);
  execFileSync('mkfifo', [file]);
  const read = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    createReadStream(file)
      .on('data', (c) => chunks.push(c as Buffer))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
  return { file, read };
}

describe('a device or FIFO as the output', () => {
  it('writeFileAtomic (cookie jars, state files) writes into it and leaves it a FIFO', async () => {
    const { file, read } = fifoWithReader('jar.fifo');
    await writeFileAtomic(file, 'cookies\n', 0o600);
    expect((await read).toString()).toBe('cookies\n');
    expect((await stat(file)).isFIFO()).toBe(true);
  });

  describe('FtpClient.get', () => {
    let server: FtpServerHandle;
    beforeAll(async () => {
      const root = path.join(dir, 'ftp');
      execFileSync('mkdir', ['-p', path.join(root, 'pub')]);
      await writeFile(path.join(root, 'pub', 'a.txt'), 'hello, device\n');
      server = await createFtpServer({ root, dataDir: path.join(dir, 'data'), port: 0 });
    });
    afterAll(async () => server?.close(500));

    it('downloads into it in place, no part file, and it stays a FIFO', async () => {
      const { file, read } = fifoWithReader('out.fifo');
      const client = await FtpClient.connect({ host: '127.0.0.1', port: server.port });
      try {
        const r = await client.get('pub/a.txt', file);
        expect(r).toMatchObject({ path: file, size: 14, transferred: 14 });
        await expect(client.get('pub/a.txt', file, { resume: true })).rejects.toThrow(
          `${file} is not a regular file: nothing to resume`,
        );
      } finally {
        await client.close();
      }
      expect((await read).toString()).toBe('hello, device\n');
      expect((await stat(file)).isFIFO()).toBe(true);
      await expect(stat(`${file}.part`)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });
});
