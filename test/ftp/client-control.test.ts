/**
 * Servers that never stop talking on the control connection, or send a listing without end:
 * memory stays bounded (basic-ftp's 64 KiB per reply, the listing bound) and, what basic-ftp
 * alone does not do, the command ends with a one-line error instead of waiting forever — its idle
 * timeout restarts with every byte, so junk that never completes a reply held it indefinitely.
 */
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { FtpClient, FtpClientError } from '../../src/ftp/client.js';
import { ControlWatch, MAX_REPLY_LINE } from '../../src/ftp/client-control.js';
import { fakeFtp } from './fake-ftp.js';

/** Write `piece` again and again, as fast as the peer reads, until the connection goes. */
function flood(sock: net.Socket, piece: string | Buffer): void {
  let open = true;
  sock.once('close', () => {
    open = false;
  });
  const pump = () => {
    while (open && sock.write(piece));
  };
  sock.on('drain', pump);
  pump();
}

/** `piece` every few milliseconds until the connection goes: a trickle that never goes silent. */
function trickle(sock: net.Socket, piece: string): void {
  const t = setInterval(() => sock.write(piece), 5);
  sock.once('close', () => clearInterval(t));
}

/** The error `p` fails with (a value it resolves to fails the check). */
async function failure(p: Promise<unknown>): Promise<FtpClientError> {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(FtpClientError);
  return err as FtpClientError;
}

describe('ControlWatch', () => {
  const at = (chunks: Array<[string, number]>, waitMs: number, maxLine?: number) => {
    const w = new ControlWatch(maxLine);
    return chunks.map(([c, now]) => w.feed(c, now, waitMs)?.message);
  };

  it.each([
    ['a reply in one chunk', [['220 hi\r\n', 0]], 100, [undefined]],
    [
      'a reply split anywhere',
      [
        ['2', 0],
        ['20 h', 50],
        ['i\r', 90],
        ['\n', 200],
      ],
      100,
      [undefined, undefined, undefined, undefined],
    ],
    [
      'a code alone',
      [
        ['xx\r\n', 0],
        ['226\r\n', 150],
      ],
      100,
      [undefined, undefined],
    ],
    [
      'a multi-line reply ending in time',
      [
        ['211-a\r\n', 0],
        [' b\r\n', 50],
        ['211 End\r\n', 99],
      ],
      100,
      [undefined, undefined, undefined],
    ],
  ] as Array<[string, Array<[string, number]>, number, Array<string | undefined>]>)(
    '%s: fine',
    (_l, chunks, wait, out) => {
      expect(at(chunks, wait)).toEqual(out);
    },
  );

  it('junk lines for as long as the timeout: a timeout; none armed: nothing', () => {
    const junk: Array<[string, number]> = [
      ['junk\r\n', 0],
      ['220-not the end\r\n', 60],
      [' 226 indented\r\n', 100],
    ];
    expect(at(junk, 100)).toEqual([
      undefined,
      undefined,
      expect.stringMatching(/^Timeout \(control socket: 100 ms/),
    ]);
    expect(at(junk, 0)).toEqual([undefined, undefined, undefined]);
    // a reply in between starts the count again
    expect(
      at(
        [
          ['junk\r\n', 0],
          ['200 ok\r\n', 90],
          ['junk\r\n', 150],
          ['junk\r\n', 189],
        ],
        100,
      ),
    ).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a line over the bound, in one chunk or many, with or without a code', () => {
    expect(at([[`220 ${'x'.repeat(20)}`, 0]], 0, 16)[0]).toMatch(/line of more than/);
    expect(
      at(
        [
          ['220 xxxxxxxx', 0],
          ['xxxxxxxx', 0],
        ],
        0,
        16,
      ),
    ).toEqual([undefined, expect.stringMatching(/line/)]);
    expect(
      at(
        [
          ['220 xxxxxxxx\r\n', 0],
          ['xxxxxxxx', 0],
        ],
        0,
        16,
      ),
    ).toEqual([undefined, undefined]);
    expect(MAX_REPLY_LINE).toBe(64 * 1024);
  });
});

describe('a server that never stops talking', () => {
  it('a greeting that is one endless line: NETKIT_LINE_TOO_LONG, not a hang', async () => {
    const srv = await fakeFtp({
      greet: (ctl) => {
        ctl.write('220 ');
        flood(ctl, Buffer.alloc(16384, 'x'));
      },
    });
    try {
      const err = await failure(FtpClient.connect({ host: '127.0.0.1', port: srv.port, timeoutMs: 1000 }));
      expect(err.code).toBe('NETKIT_LINE_TOO_LONG');
      expect(err.message).toMatch(/^connect 127\.0\.0\.1:\d+: the server sent a line of more than 64 KiB/);
      expect(err.message).not.toContain('\n');
    } finally {
      await srv.close();
    }
  });

  it('junk that never completes a reply to a command: NETKIT_TIMEOUT after the control timeout', async () => {
    const srv = await fakeFtp({ on: { NOOP: ({ ctl }) => trickle(ctl, 'still thinking\r\n') } });
    const client = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, timeoutMs: 300 });
    try {
      const err = await failure(client.command('NOOP'));
      expect(err.code).toBe('NETKIT_TIMEOUT');
      expect(err.message).toMatch(/^NOOP: Timeout \(control socket: 300 ms of text that is no FTP reply\)$/);
    } finally {
      client.close();
      await srv.close();
    }
  });

  it('an endless multi-line reply: the 64 KiB bound, said in words', async () => {
    const srv = await fakeFtp({ greet: (ctl) => flood(ctl, '220-more and more\r\n'.repeat(100)) });
    try {
      const err = await failure(FtpClient.connect({ host: '127.0.0.1', port: srv.port, timeoutMs: 1000 }));
      expect(err.code).toBe('NETKIT_LINE_TOO_LONG');
      expect(err.message).toMatch(/: the server sent a reply of more than 64 KiB$/);
    } finally {
      await srv.close();
    }
  });

  it('a listing without end, or one endless line: NETKIT_TOO_LARGE at maxListingBytes', async () => {
    for (const piece of ['-rw-r--r-- 1 u g 5 Jan 01 2024 f\r\n', 'x'.repeat(4096)]) {
      const srv = await fakeFtp({
        epsv: true,
        on: {
          LIST: ({ reply, data }) => {
            reply('150 Here it comes');
            void data().then((s) => flood(s, piece));
          },
        },
      });
      const client = await FtpClient.connect({
        host: '127.0.0.1',
        port: srv.port,
        timeoutMs: 2000,
        maxListingBytes: 1 << 20,
      });
      try {
        const err = await failure(client.list('big'));
        expect(err.code).toBe('NETKIT_TOO_LARGE');
        expect(err.message).toBe(
          'list big: the listing is larger than 1.0 MiB, the limit for one directory listing (--max-listing-size)',
        );
      } finally {
        client.close();
        await srv.close();
      }
    }
  });
});
