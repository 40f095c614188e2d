/**
 * Hostile TLS clients for the servers' implicit-TLS ports (and STARTTLS/STLS/AUTH TLS): crowds that
 * connect and never finish a handshake, a broken record after the handshake, repeated
 * renegotiation, and the process's socket descriptors to prove nothing was left behind.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';

/** Descriptors this process holds (Linux /proc) whose target starts with `prefix`. */
function fdsTo(prefix: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(prefix)) n += 1;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Socket descriptors this process holds (Linux /proc): server and client sides alike. */
export function socketFds(): number {
  return fdsTo('socket:');
}

/** Descriptors this process holds on files under `dir` (an absolute path without symbolic links). */
export function fileFdsUnder(dir: string): number {
  return fdsTo(`${dir}/`);
}

/**
 * Wait (bounded) until `done()` holds; returns its last value. For states without an event to wait
 * for (a descriptor closed, a listener's count gone down a few milliseconds after it): polled.
 */
export async function eventually(done: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return done();
}

/**
 * Wait (bounded) until this process holds no more sockets than `baseline`; returns the count (at
 * most the baseline, not exactly: a socket an earlier test left lingering may close meanwhile). A
 * socket's `'close'` (which frees its connection slot) is emitted in the event-loop turn after its
 * descriptor was closed: that turn has passed too when this resolves.
 */
export async function socketFdsBackTo(baseline: number, ms = 5000): Promise<number> {
  await eventually(() => socketFds() <= baseline, ms);
  for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
  return socketFds();
}

/**
 * The first 11 bytes of a TLS 1.2 ClientHello record that announces 512 bytes: a server reading it
 * waits for the rest, which never comes.
 */
export const PARTIAL_CLIENT_HELLO = Buffer.from([
  0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
]);

/** An application-data record with 32 random bytes: it cannot decrypt in any session. */
export function brokenRecord(): Buffer {
  return Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), randomBytes(32)]);
}

/**
 * `count` TCP connections to `port` that, once connected, say nothing (or `first`); resolves once
 * all are connected, with a promise for the moment the server has closed every one of them.
 */
export async function crowd(
  port: number,
  count: number,
  first?: (i: number) => Buffer | undefined,
): Promise<{ sockets: net.Socket[]; allClosed: Promise<void> }> {
  const sockets: net.Socket[] = [];
  const closed: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    // bytes the server sends (a TLS alert) are read, so that its close is seen
    s.resume();
    sockets.push(s);
    closed.push(once(s, 'close'));
  }
  await Promise.all(
    sockets.map(async (s, i) => {
      await once(s, 'connect');
      const bytes = first?.(i);
      if (bytes) s.write(bytes);
    }),
  );
  return { sockets, allClosed: Promise.all(closed).then(() => {}) };
}

/** A TLS client over a raw TCP socket we keep a hand on (to write bytes under the TLS layer). */
export interface RawTlsClient {
  raw: net.Socket;
  secure: tls.TLSSocket;
  /** resolves once the raw socket is closed */
  closed: Promise<void>;
}

/** Connect over implicit TLS (certificate not checked: the subject here is the server's robustness). */
export async function rawTlsClient(port: number, options: tls.ConnectionOptions = {}): Promise<RawTlsClient> {
  const raw = net.connect({ port, host: '127.0.0.1' });
  raw.on('error', () => {});
  const closed = once(raw, 'close').then(() => {});
  await once(raw, 'connect');
  return { raw, secure: await startTls(raw, options), closed };
}

/** The client handshake on a connected socket (after STARTTLS/STLS/AUTH TLS, or implicit). */
export async function startTls(raw: net.Socket, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ...options });
  secure.on('error', () => {});
  await once(secure, 'secureConnect');
  return secure;
}

/** Resolves true once `socket` closes, false if it is still open after `ms` (the failure case). */
export function closesWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void closed.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The value of `p`, or `'timeout'` if it takes longer than `ms` (the failure case, kept short). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Renegotiate (TLS 1.2) over and over until the server closes the connection or `max` renegotiations
 * succeeded; resolves with how many succeeded. (Once the server has closed, the pending
 * renegotiation's callback is never called: the close is what ends the wait.)
 */
export async function renegotiateUntilClosed(client: RawTlsClient, max = 20): Promise<number> {
  let done = 0;
  let gone = false;
  void client.closed.then(() => {
    gone = true;
  });
  while (!gone && done < max) {
    const ok = await Promise.race([
      new Promise<boolean>((resolve) => {
        const started = client.secure.renegotiate({ rejectUnauthorized: false }, (err) => resolve(!err));
        if (!started) resolve(false);
      }),
      client.closed.then(() => false),
    ]);
    if (!ok) break;
    done += 1;
  }
  return done;
}

/**
 * Lines (CRLF or LF) read from a stream that may be swapped for another mid-conversation (the raw
 * socket before STARTTLS, the TLS one after): `detach()` the first, read the second with a new one.
 */
export class LineReader {
  private buf = '';
  private lines: string[] = [];
  private waiters: Array<(l: string) => void> = [];
  private readonly onData = (d: Buffer | string) => {
    this.buf += typeof d === 'string' ? d : d.toString('latin1');
    for (let i = this.buf.indexOf('\n'); i !== -1; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      const w = this.waiters.shift();
      if (w) w(line);
      else this.lines.push(line);
    }
  };

  constructor(private readonly stream: Readable) {
    stream.on('data', this.onData);
  }

  next(): Promise<string> {
    return this.read();
  }

  /** The next line that matches `re` (the lines before it are skipped). */
  async until(re: RegExp): Promise<string> {
    for (;;) {
      const l = await this.read();
      if (re.test(l)) return l;
    }
  }

  private read(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  detach(): void {
    this.stream.off('data', this.onData);
  }
}
