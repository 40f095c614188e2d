/**
 * The POP3 client against a hostile server that sends a multi-line reply without end (no
 * terminating `.`): a listing is capped at `maxListingBytes` (it becomes an object per line, so it
 * would cost many times its size), and a fetched message at twice its LIST size plus
 * `maxExcessBytes` (streamed to disk, it would fill the disk). Both fail with NETKIT_TOO_LARGE.
 */
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Pop3Client } from '../../src/mail/pop3-client.js';
import { fetchMessages } from '../../src/mail/pop3-client-fetch.js';
import { tempDir } from '../helpers/net.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const MIB = 1024 * 1024;

/**
 * A server that answers `verb` with `+OK` and then `lines()` for up to `total` octets (the
 * terminating dot follows only then), every other command with a short reply. It counts what it
 * sent of that body.
 */
async function flooder(verb: 'LIST' | 'RETR', total: number, line: (i: number) => string) {
  const state = { sent: 0 };
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.write('+OK hostile\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i !== -1; i = buf.indexOf('\r\n')) {
        const cmd = buf.slice(0, i).split(' ')[0]!.toUpperCase();
        buf = buf.slice(i + 2);
        if (cmd === verb) {
          sock.write('+OK\r\n');
          let n = 1;
          const pump = () => {
            while (!sock.destroyed && state.sent < total) {
              let chunk = '';
              for (let k = 0; k < 1000; k++) chunk += line(n++);
              state.sent += chunk.length;
              if (!sock.write(chunk)) return void sock.once('drain', pump);
            }
            if (!sock.destroyed) sock.write('.\r\n');
          };
          pump();
        } else if (cmd === 'LIST') sock.write('+OK\r\n1 100\r\n.\r\n');
        else if (cmd === 'CAPA' || cmd === 'UIDL') sock.write('-ERR no\r\n');
        else sock.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port, state };
}

async function connect(port: number, opts: { maxListingBytes?: number } = {}) {
  const client = await Pop3Client.connect({ port, ...opts });
  cleanups.push(async () => client.close());
  await client.login('bob', 'pw');
  return client;
}

describe('Pop3Client against a server whose multi-line reply does not end', () => {
  it('a LIST without end fails at the 16 MiB listing limit, not the 256 MiB message limit', async () => {
    // 20 MiB, then the end: long lines, so that a client without the limit parses it quickly
    const { port } = await flooder('LIST', 20 * MIB, (i) => `${i} 1${' '.repeat(200)}\r\n`);
    const client = await connect(port);
    await expect(client.list()).rejects.toMatchObject({
      code: 'NETKIT_TOO_LARGE',
      message: expect.stringMatching(/the reply to LIST: .*16777216 bytes/),
    });
  });

  it('maxListingBytes sets the listing limit', async () => {
    const { port } = await flooder('LIST', 4 * MIB, (i) => `${i} 1\r\n`);
    const client = await connect(port, { maxListingBytes: 64 * 1024 });
    await expect(client.list()).rejects.toMatchObject({ code: 'NETKIT_TOO_LARGE' });
  });

  it('fetch gives up on a message that runs far past its LIST size, leaving no file', async () => {
    // listed at 100 octets, sent 48 MiB (a stand-in for "forever")
    const { port, state } = await flooder('RETR', 48 * MIB, () => 'line line line line line\r\n');
    const client = await connect(port);
    const tmp = await tempDir();
    cleanups.push(() => tmp.cleanup());
    await expect(fetchMessages(client, { out: tmp.dir, maxExcessBytes: 64 * 1024 })).rejects.toMatchObject({
      code: 'NETKIT_TOO_LARGE',
      message: expect.stringMatching(
        /message 1 is listed at 100 octets, but the server sent more than 65736/,
      ),
    });
    expect(state.sent).toBeLessThan(24 * MIB);
    expect((await readdir(tmp.dir)).filter((f) => f !== '.netkit-pop3-state.json')).toEqual([]);
  });
});
