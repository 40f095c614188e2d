/**
 * Hostile and aborted clients must not leave descriptors behind in the lab. Fuzzing the lab grew
 * its open descriptors without bound; each kind of client that did it is replayed here against a
 * whole lab (library, every port 0) in this process, and the process's sockets must come back to
 * what they were once every client is gone:
 * - a refused WebSocket upgrade whose client sent more bytes (the dashboard never closed it),
 * - connections over the FTP per-IP limit that pipeline their first commands (the 421 was sent,
 *   the socket never closed: core/server.ts),
 * - a CONNECT to the HTTP file server with bytes after it (same, in file-server.ts),
 * - aborted downloads of an FTP file through the dashboard.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ftpRoot } from '../../src/lab/bootstrap.js';
import { resolveLabConfig } from '../../src/lab/config.js';
import { type LabHandle, startLab } from '../../src/lab/lab.js';
import { LAB_ANY_PORTS } from '../helpers/lab.js';
import { tempDir } from '../helpers/net.js';
import { socketFds } from '../helpers/tls-hostile.js';

/** Wait (bounded) until this process holds no more sockets than `baseline`; returns the count. */
async function settled(baseline: number, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  while (socketFds() > baseline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return socketFds();
}

/**
 * One raw client: send `request`, wait for the first bytes of the answer, send `after` (if any),
 * then hang up as `end` says, and resolve with the answer's first line once our socket is closed.
 */
function client(
  port: number,
  request: string,
  opts: { after?: Buffer; end?: 'fin' | 'reset' } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let first = '';
    s.on('error', () => {});
    s.once('data', (d) => {
      first = String(d).split('\r\n')[0]!;
      if (opts.after) s.write(opts.after);
      if (opts.end === 'reset') s.resetAndDestroy();
      else s.end();
    });
    s.once('close', () => (first ? resolve(first) : reject(new Error('closed without an answer'))));
  });
}

describe('the lab after hostile and aborted clients', () => {
  let cleanup: () => Promise<void>;
  let lab: LabHandle;
  const port = (name: string) => lab.services().find((s) => s.name === name && s.transport === 'tcp')!.port;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    lab = await startLab(resolveLabConfig({ dataDir: path.join(dir, 'data'), ports: LAB_ANY_PORTS }));
    await writeFile(path.join(ftpRoot(lab.dataDir), 'pub', 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 7));
  });
  afterAll(async () => {
    await lab?.close(1000);
    await cleanup?.();
  });

  it('closes refused WebSocket upgrades whose client sent more bytes', async () => {
    const baseline = socketFds();
    const upgrade = (target: string) =>
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const after = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let i = 0; i < 20; i++) {
      expect(await client(port('dashboard'), upgrade('/not-the-socket'), { after })).toMatch(/ 403 /);
      expect(await client(port('dashboard'), upgrade('//[x'), { after })).toMatch(/ 400 /);
    }
    expect(await settled(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('closes the connections over the FTP per-IP limit that pipeline their first commands', async () => {
    const baseline = socketFds();
    // the lab's FTP server takes 32 connections per address: fill them
    const held = await Promise.all(
      Array.from(
        { length: 32 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(port('ftp'), '127.0.0.1');
            s.on('error', reject);
            s.once('data', () => resolve(s));
          }),
      ),
    );
    for (let i = 0; i < 20; i++) {
      const answer = await client(port('ftp'), 'USER anonymous\r\nPASS a@b\r\nPASV\r\n');
      expect(answer).toMatch(/^421 /);
    }
    await Promise.all(
      held.map((s) => {
        const closed = new Promise((r) => s.once('close', r));
        s.destroy();
        return closed;
      }),
    );
    expect(await settled(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('closes a refused CONNECT on the HTTP file server whose client sent more bytes', async () => {
    const baseline = socketFds();
    for (let i = 0; i < 20; i++) {
      const answer = await client(
        port('http'),
        'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n',
        {
          after: Buffer.from('SSH-2.0-x\r\n'),
        },
      );
      expect(answer).toMatch(/ 405 /);
    }
    expect(await settled(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('closes the file and the socket of aborted FTP downloads through the dashboard', async () => {
    const baseline = socketFds();
    for (let i = 0; i < 20; i++) {
      const answer = await client(
        port('dashboard'),
        'GET /api/v1/ftp/file?path=pub/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        { end: i % 2 ? 'reset' : 'fin' },
      );
      expect(answer).toMatch(/ 200 /);
    }
    expect(await settled(baseline)).toBeLessThanOrEqual(baseline);
    const open = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).endsWith(`${path.sep}big.bin`);
      } catch {
        return false;
      }
    });
    expect(open).toEqual([]);
  });
});
