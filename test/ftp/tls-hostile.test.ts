/**
 * Hostile clients against the FTP server's TLS: the implicit-TLS port, AUTH TLS on the plain port,
 * and TLS data connections (PROT P). A crowd that never finishes its handshakes must be dropped by
 * the handshake timeout with every descriptor and slot back; a record that does not decrypt must
 * close the control connection at once, and fail a transfer at once (426) instead of stalling it
 * until the data idle timeout (the last two used to go unnoticed: see core/tls-server-socket.ts);
 * a client that asks to renegotiate is refused and closed (core/tls.ts serverTlsOptions); a PROT P download nobody reads stays
 * bounded and ends at the data idle timeout; resets mid-transfer leave nothing behind; plaintext
 * pipelined after AUTH TLS is discarded, and a USER sent before it forgotten.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokenRecord,
  closesWithin,
  crowd,
  eventually,
  LineReader,
  PARTIAL_CLIENT_HELLO,
  type RawTlsClient,
  rawTlsClient,
  renegotiateUntilClosed,
  socketFds,
  socketFdsBackTo,
  startTls,
  within,
} from '../helpers/tls-hostile.js';
import { type Fixture, PASSWORDS, startFixture } from './fixture.js';

const BIG = 64 * 1024 * 1024;
let fx: Fixture;

beforeAll(async () => {
  fx = await startFixture({ tlsPort: 0, limits: { dataIdleTimeoutMs: 500 } });
  await writeFile(path.join(fx.root, 'home/alice/big.bin'), Buffer.alloc(BIG, 0x5a));
});
afterAll(async () => {
  await fx.server.close(200);
  await fx.cleanup();
});

/** FTP replies: the final line of each (`NNN text`). */
class Replies extends LineReader {
  override next(): Promise<string> {
    return super.until(/^\d{3} /);
  }
}

interface Control extends RawTlsClient {
  replies: Replies;
  cmd(line: string): Promise<string>;
}

function control(c: RawTlsClient): Control {
  const replies = new Replies(c.secure);
  return Object.assign(c, {
    replies,
    cmd: (line: string) => {
      c.secure.write(`${line}\r\n`);
      return replies.next();
    },
  });
}

/** alice, logged in over implicit TLS (PROT P is the default there), binary type. */
async function aliceOverTls(maxVersion?: 'TLSv1.2'): Promise<Control> {
  const c = control(await rawTlsClient(fx.server.tlsPort!, maxVersion ? { maxVersion } : {}));
  expect(await c.replies.next()).toMatch(/^220 /);
  expect(await c.cmd('USER alice')).toMatch(/^331 /);
  expect(await c.cmd(`PASS ${PASSWORDS.alice}`)).toMatch(/^230 /);
  expect(await c.cmd('TYPE I')).toMatch(/^200 /);
  return c;
}

/** EPSV, the command, its 150, then the client handshake on the data connection. */
async function tlsTransfer(c: Control, command: string): Promise<RawTlsClient> {
  const epsv = await c.cmd('EPSV');
  const port = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)![1]);
  const raw = net.connect({ port, host: '127.0.0.1' });
  raw.on('error', () => {});
  const closed = once(raw, 'close').then(() => {});
  await once(raw, 'connect');
  expect(await c.cmd(command)).toMatch(/^150 /);
  return { raw, secure: await startTls(raw), closed };
}

/** Read the rest of a (paused) data connection: resolves with the byte count once it closes. */
async function received(data: RawTlsClient): Promise<number> {
  let n = data.secure.readableLength;
  data.secure.on('data', (d: Buffer) => {
    n += d.length;
  });
  data.secure.resume();
  expect(await closesWithin(data.closed, 5000)).toBe(true);
  return n;
}

describe('FTP implicit-TLS port: clients that never finish a handshake', () => {
  it('200 of them (silent, a cut ClientHello, plaintext FTP) are dropped; descriptors and slots come back', async () => {
    const srv = await startFixture(
      { tlsPort: 0, maxClients: 200, maxClientsPerIp: 200, limits: { tlsHandshakeTimeoutMs: 300 } },
      { base: fx.base },
    );
    try {
      const baseline = socketFds();
      const { allClosed } = await crowd(srv.server.tlsPort!, 200, (i) =>
        i % 3 === 0 ? undefined : i % 3 === 1 ? PARTIAL_CLIENT_HELLO : Buffer.from('USER anonymous\r\n'),
      );
      expect(await closesWithin(allClosed, 5000)).toBe(true);
      expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
      expect(await eventually(() => srv.server.connections === 0)).toBe(true);
      expect(srv.server.sessions()).toEqual([]);
      const good = control(await rawTlsClient(srv.server.tlsPort!));
      expect(await good.replies.next()).toMatch(/^220 /);
      good.raw.destroy();
    } finally {
      await srv.server.close(200);
    }
  });
});

describe('FTP control connection over TLS: broken records and renegotiation', () => {
  it('a record that does not decrypt closes the control connection at once, on the TLS port and after AUTH TLS', async () => {
    const implicit = await aliceOverTls();
    implicit.raw.write(brokenRecord());
    expect(await closesWithin(implicit.closed, 3000)).toBe(true);

    const raw = net.connect({ port: fx.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    const closed = once(raw, 'close').then(() => {});
    const plain = new Replies(raw);
    expect(await plain.next()).toMatch(/^220 /);
    raw.write('AUTH TLS\r\n');
    expect(await plain.next()).toMatch(/^234 /);
    plain.detach();
    const explicit = control({ raw, secure: await startTls(raw), closed });
    expect(await explicit.cmd('USER alice')).toMatch(/^331 /);
    raw.write(brokenRecord());
    expect(await closesWithin(closed, 3000)).toBe(true);
    expect(await eventually(() => fx.server.connections === 0)).toBe(true);
  });

  it('a TLS 1.2 client that asks to renegotiate is refused and closed at its first attempt', async () => {
    const c = await aliceOverTls('TLSv1.2');
    const renegotiations = await renegotiateUntilClosed(c);
    expect(await closesWithin(c.closed, 3000)).toBe(true);
    expect(renegotiations).toBe(0);
  });

  it('plaintext pipelined after AUTH TLS is discarded, not run inside the TLS session', async () => {
    const raw = net.connect({ port: fx.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    const closed = once(raw, 'close').then(() => {});
    const plain = new Replies(raw);
    expect(await plain.next()).toMatch(/^220 /);
    raw.write('AUTH TLS\r\nNOOP\r\nUSER alice\r\n');
    expect(await plain.next()).toMatch(/^234 /);
    plain.detach();
    const c = control({ raw, secure: await startTls(raw), closed });
    // the first reply inside TLS answers SYST, not the NOOP or USER sent in the clear
    expect(await c.cmd('SYST')).toMatch(/^215 /);
    expect(await c.cmd('PASS x')).toMatch(/^503 /);
    raw.destroy();
  });

  it('a USER sent in the clear before AUTH TLS is forgotten: PASS inside TLS needs a USER of its own', async () => {
    const raw = net.connect({ port: fx.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    const closed = once(raw, 'close').then(() => {});
    const plain = new Replies(raw);
    expect(await plain.next()).toMatch(/^220 /);
    raw.write('USER alice\r\n');
    expect(await plain.next()).toMatch(/^331 /);
    raw.write('AUTH TLS\r\n');
    expect(await plain.next()).toMatch(/^234 /);
    plain.detach();
    const c = control({ raw, secure: await startTls(raw), closed });
    // RFC 2228: an accepted AUTH requires the user to log in again (USER and PASS)
    expect(await c.cmd(`PASS ${PASSWORDS.alice}`)).toBe('503 Send USER first');
    expect(await c.cmd('USER alice')).toMatch(/^331 /);
    expect(await c.cmd(`PASS ${PASSWORDS.alice}`)).toMatch(/^230 /);
    raw.destroy();
  });
});

describe('FTP data connections over TLS (PROT P)', () => {
  it('a record that does not decrypt fails an upload at once with 426 (not after the data idle timeout); the session goes on', async () => {
    const srv = await startFixture({ tlsPort: 0 }, { base: fx.base }); // data idle timeout: 5 min
    try {
      const c = control(await rawTlsClient(srv.server.tlsPort!));
      await c.replies.next();
      await c.cmd('USER alice');
      await c.cmd(`PASS ${PASSWORDS.alice}`);
      const data = await tlsTransfer(c, 'STOR broken.bin');
      data.secure.write(Buffer.alloc(100_000, 1));
      data.raw.write(brokenRecord());
      expect(await within(c.replies.next(), 3000)).toMatch(/^426 /);
      expect(await closesWithin(data.closed, 3000)).toBe(true);
      expect(await c.cmd('NOOP')).toMatch(/^200 /);
      c.raw.destroy();
    } finally {
      await srv.server.close(200);
    }
  });

  it('a data connection that speaks plaintext, or closes during the handshake, is a 425 at once, in words without OpenSSL internals', async () => {
    const c = await aliceOverTls();
    /** EPSV, connect the data socket, send the command: its 150 comes before any handshake */
    const dataFor = async (command: string): Promise<net.Socket> => {
      const port = Number(/\(\|\|\|(\d+)\|\)/.exec(await c.cmd('EPSV'))![1]);
      const raw = net.connect({ port, host: '127.0.0.1' });
      raw.on('error', () => {});
      await once(raw, 'connect');
      expect(await c.cmd(command)).toMatch(/^150 /);
      return raw;
    };
    (await dataFor('LIST')).write('GARBAGE\r\n');
    const plain = await within(c.replies.next(), 3000);
    // the reply was OpenSSL's message whole: "…:SSL routines:ssl3_get_record:wrong version
    // number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:"
    expect(plain).toMatch(/^425 .*wrong version number \(not a TLS client\?\)$/);
    expect(plain).not.toMatch(/deps|SSL routines|\.c:\d+/);
    // a FIN mid-handshake raised no error: the 425 came only after the 30 s handshake timeout
    (await dataFor('RETR big.bin')).end();
    expect(await within(c.replies.next(), 3000)).toMatch(/^425 .*closed by the client during the handshake$/);
    expect(await c.cmd('NOOP')).toMatch(/^200 /);
    c.raw.destroy();
  });

  it('a download nobody reads stays bounded and ends at the data idle timeout (426); the session goes on', async () => {
    const c = await aliceOverTls();
    const data = await tlsTransfer(c, 'RETR big.bin');
    // read nothing: the server's writes back up through both kernels' buffers to its file reads
    data.secure.pause();
    const reply = await c.replies.next();
    expect(reply).toMatch(/^426 .*idle/);
    const sent = Number(/after (\d+) bytes/.exec(reply)![1]);
    // what the kernels buffer (a few MiB on loopback), far from the whole 64 MiB file
    expect(sent).toBeLessThan(BIG / 2);
    // reading again, the client gets what was buffered, then the end
    expect(await received(data)).toBeLessThan(BIG / 2);
    expect(await c.cmd('NOOP')).toMatch(/^200 /);
    c.raw.destroy();
  });

  it('a reset of the data connection mid-download is a 426; a reset of the control connection takes the data connection with it', async () => {
    expect(await eventually(() => fx.server.connections === 0)).toBe(true);
    const baseline = socketFds();
    const c = await aliceOverTls();
    const data = await tlsTransfer(c, 'RETR big.bin');
    await once(data.secure, 'data');
    data.raw.resetAndDestroy();
    expect(await c.replies.next()).toMatch(/^426 /);
    expect(await c.cmd('NOOP')).toMatch(/^200 /);

    const second = await tlsTransfer(c, 'RETR big.bin');
    second.secure.pause();
    await once(second.secure, 'readable');
    c.raw.resetAndDestroy();
    // the server aborts the transfer and closes the data connection: reading again, the client
    // gets what was buffered, then the end, not the whole file
    expect(await received(second)).toBeLessThan(BIG / 2);
    expect(await socketFdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
    expect(await eventually(() => fx.server.connections === 0)).toBe(true);
  });
});
