/**
 * Passive mode's addresses: `publicHost` is what PASV announces (the server still listens where it
 * is), and a data connection to a passive port from any address but the client's own is dropped
 * (a stranger cannot steal the transfer), while the client's connection still gets the file.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { type Fixture, loginAlice, startFixture } from './fixture.js';
import { connect } from './raw-client.js';

let fx: Fixture;
const traces: TraceEvent[] = [];

beforeAll(async () => {
  fx = await startFixture({ publicHost: '10.1.2.3' });
  fx.server.on('trace', (ev: TraceEvent) => traces.push(ev));
  await writeFile(path.join(fx.root, 'home/alice/data.txt'), 'the data\n');
});
afterAll(() => fx.cleanup());

/** Read a whole data connection. */
async function drain(sock: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  await once(sock, 'close');
  return Buffer.concat(chunks).toString();
}

describe('passive mode addresses', () => {
  it('PASV announces --public-host; EPSV (port only) and the transfer are unchanged', async () => {
    const c = await loginAlice(fx);
    const pasv = await c.cmd('PASV');
    const m = /\((10,1,2,3),(\d+),(\d+)\)/.exec(pasv.text);
    expect([pasv.code, m?.[1]]).toEqual([227, '10,1,2,3']);
    // the listener is local: connect where it really is, at the announced port
    const sock = await connect(Number(m![2]) * 256 + Number(m![3]));
    const got = drain(sock);
    expect((await c.cmd('RETR data.txt')).code).toBe(150);
    expect(await got).toBe('the data\n');
    expect((await c.reply()).code).toBe(226);
    expect((await c.cmd('EPSV')).text).toMatch(/^Entering Extended Passive Mode \(\|\|\|\d+\|\)$/);
    c.close();
  });

  it('a data connection from another address is dropped; the client still gets the file', async () => {
    const c = await loginAlice(fx);
    const port = Number(/\(\|\|\|(\d+)\|\)/.exec((await c.cmd('EPSV')).text)![1]);
    const intruder = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    const stolen = await drain(intruder);
    expect(stolen).toBe('');
    expect(traces.some((t) => /refused data connection from foreign address 127\.0\.0\.2/.test(t.text))).toBe(
      true,
    );
    const sock = await connect(port);
    const got = drain(sock);
    expect((await c.cmd('RETR data.txt')).code).toBe(150);
    expect(await got).toBe('the data\n');
    expect((await c.reply()).code).toBe(226);
    c.close();
  });
});
