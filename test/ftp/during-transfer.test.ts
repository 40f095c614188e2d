/**
 * The control connection while a transfer runs (RFC 959 §4.1.3, §5.4): ABOR and STAT are
 * answered at once, other commands wait for the transfer's last reply without blocking an ABOR
 * sent after them; an ABOR whose LF was lost (sent as TCP urgent data) still counts; a session
 * that ends while its transfer waits for the passive connection releases the port at once.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FtpSessionEvent } from '../../src/ftp/session.js';
import { type Fixture, loginAlice, nextSessionEvent, startFixture } from './fixture.js';
import { connect, type RawFtp } from './raw-client.js';

let fx: Fixture;

beforeAll(async () => {
  // a data timeout far beyond the test timeout: a passive listener closing is our doing, not its timer
  fx = await startFixture({ limits: { dataConnectTimeoutMs: 600_000 } });
  await writeFile(path.join(fx.root, 'home/alice/huge.bin'), Buffer.alloc(64 * 1024 * 1024));
});
afterAll(() => fx.cleanup());

const alice = () => loginAlice(fx);

/** A RETR of 64 MiB whose data connection is never read: it stalls on backpressure. */
async function stalledRetr(c: RawFtp): Promise<net.Socket> {
  const sock = await c.epsv();
  sock.pause();
  expect((await c.cmd('RETR huge.bin')).code).toBe(150);
  return sock;
}

const nextSession = (match: (e: FtpSessionEvent) => boolean) => nextSessionEvent(fx, match);

const codes = async (c: RawFtp, n: number) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await c.reply()).code);
  return out;
};

describe('commands during a transfer', () => {
  it('NOOP and ABOR sent together: NOOP answered at once, then 426 and 226', async () => {
    const c = await alice();
    const sock = await stalledRetr(c);
    c.lc.send('NOOP\r\nABOR\r\n');
    expect(await codes(c, 3)).toEqual([200, 426, 226]);
    sock.destroy();
    expect((await c.cmd('PWD')).code).toBe(257);
    c.close();
  });

  it('a command waits for the end of the transfer, and an ABOR sent after it still aborts', async () => {
    const c = await alice();
    const sock = await stalledRetr(c);
    c.lc.send('PWD\r\nSTAT\r\nABOR\r\n');
    const stat = await c.reply();
    expect(stat.code).toBe(213);
    expect(stat.text).toMatch(/Transfer in progress: download \/huge\.bin/);
    // ABOR overtakes the held PWD (pyftpdlib's order); PWD is answered once the transfer is over
    expect(await codes(c, 3)).toEqual([426, 226, 257]);
    sock.destroy();
    c.close();
  });

  it('held commands run in order once the transfer completes', async () => {
    const c = await alice();
    const sock = await stalledRetr(c);
    c.lc.send('PWD\r\nNOOP\r\nTYPE A\r\n');
    const received = new Promise<number>((resolve) => {
      let n = 0;
      sock.on('data', (d: Buffer) => {
        n += d.length;
      });
      sock.on('end', () => resolve(n));
    });
    sock.resume();
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await c.reply());
    expect(replies.map((r) => r.code)).toEqual([226, 257, 200, 200]);
    expect(replies[3]!.text).toMatch(/Type set to A/);
    expect(await received).toBe(64 * 1024 * 1024);
    c.close();
  });

  it('an ABOR whose LF never arrives (TCP urgent data) is answered; the late LF is ignored', async () => {
    const c = await alice();
    const sock = await stalledRetr(c);
    c.lc.send('ABOR\r');
    expect(await codes(c, 2)).toEqual([426, 226]);
    sock.destroy();
    c.lc.send('\nNOOP\r\n');
    expect((await c.reply()).code).toBe(200);
    // Telnet IP and Synch before it, lower case
    const again = await stalledRetr(c);
    c.lc.socket.write(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('abor\r')]));
    expect(await codes(c, 2)).toEqual([426, 226]);
    again.destroy();
    expect((await c.cmd('NOOP')).code).toBe(200);
    c.close();
  });

  it('a client that pipelines a transfer and QUIT, then half-closes, still gets every reply', async () => {
    await writeFile(path.join(fx.root, 'home/alice/piped.txt'), 'piped');
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
    const lport = (listener.address() as net.AddressInfo).port;
    const got = new Promise<string>((resolve) => {
      listener.once('connection', (s) => {
        let data = '';
        s.on('data', (d: Buffer) => {
          data += d.toString();
        });
        s.on('end', () => resolve(data));
      });
    });
    const c = await alice();
    c.lc.send(`PORT 127,0,0,1,${lport >> 8},${lport & 255}\r\nRETR piped.txt\r\nQUIT\r\n`);
    c.lc.socket.end();
    expect(await codes(c, 4)).toEqual([200, 150, 226, 221]);
    expect(await got).toBe('piped');
    await c.lc.closed;
    listener.close();
  });

  it('a session that ends while its transfer waits for the passive connection frees the port', async () => {
    const c = await alice();
    await writeFile(path.join(fx.root, 'home/alice/small.txt'), 'small');
    const r = await c.cmd('EPSV');
    const port = Number(/\(\|\|\|(\d+)\|\)/.exec(r.text)![1]);
    const started = nextSession((e) => e.event === 'transfer' && e.transfer?.file === '/small.txt');
    c.send('RETR small.txt');
    const { id } = await started;
    const closed = nextSession((e) => e.event === 'close' && e.id === id);
    c.close();
    await closed;
    await expect(connect(port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
