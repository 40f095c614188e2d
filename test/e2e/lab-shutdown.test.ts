/**
 * `netkit lab` on SIGTERM: stops accepting, lets an SMTP DATA in flight finish (250, stored
 * complete), then exits 0.
 */
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ANY_PORT_FLAGS, LAB_SOCKETS } from '../helpers/lab.js';
import { LineClient, startServe, tempDir } from '../helpers/net.js';

describe('netkit lab shutdown', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('finishes an SMTP transaction in flight, refuses new connections, and exits 0', async () => {
    const data = path.join(dir, 'data');
    const lab = await startServe(['lab', '--data', data, ...LAB_ANY_PORT_FLAGS], LAB_SOCKETS);
    const smtpPort = lab.listening.find((l) => l.service === 'smtp')!.port;
    const c = await LineClient.connect(smtpPort);
    expect(await c.line()).toMatch(/^220 /);
    c.send('EHLO tester\r\n');
    await c.until(/^250 /);
    c.send('MAIL FROM:<a@example.org>\r\n');
    expect(await c.line()).toMatch(/^250/);
    c.send('RCPT TO:<bob@lab.test>\r\n');
    expect(await c.line()).toMatch(/^250/);
    c.send('DATA\r\n');
    expect(await c.line()).toMatch(/^354/);
    c.send('Subject: in flight\r\n\r\nfirst half\r\n');

    const exited = new Promise<number | null>((resolve) => lab.child.once('exit', (code) => resolve(code)));
    lab.child.kill('SIGTERM');
    // the listener closes: a new connection is refused (or closed at once)
    await new Promise<void>((resolve) => {
      const probe = (): void => {
        const s = net.connect(smtpPort, '127.0.0.1');
        s.once('error', () => resolve());
        s.once('data', () => {
          s.destroy();
          setImmediate(probe);
        });
        s.once('close', () => {});
      };
      probe();
    });
    c.send('second half\r\n.\r\n');
    expect(await c.line()).toMatch(/^250 /);
    c.send('QUIT\r\n');
    expect(await exited).toBe(0);

    const newDir = path.join(data, 'mail', 'bob', 'new');
    const files = await readdir(newDir);
    expect(files).toHaveLength(1);
    const stored = await readFile(path.join(newDir, files[0]!), 'utf8');
    expect(stored).toContain('first half\r\nsecond half\r\n');
  });
});
