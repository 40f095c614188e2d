/**
 * The HTTPS side of `netkit http serve`: one accepted TCP connection on a TLS port becomes a
 * TLSSocket ready for node:http, or is turned away.
 *
 * Why not `https.createServer()`: the file server's listeners come from the shared `listenTcp`, so
 * that one set of connection limits covers the plain and the TLS port, and a connection is counted
 * (and timed) from its first moment, not from the end of its handshake. And a look at the first byte
 * lets the TLS port answer a plain `GET` with a readable `400` (as nginx does: "The plain HTTP
 * request was sent to HTTPS port") instead of a TLS alert that curl reports as "wrong version
 * number". The handshake itself is Node's: the first chunk is put back (`unshift`) and a server
 * TLSSocket over the raw socket reads it from there.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { serverTlsSocket } from '../core/tls-server-socket.js';

/** A TLS record of type handshake (a ClientHello) starts with this byte. */
const TLS_HANDSHAKE = 0x16;

/** The reply to a plain HTTP request on the TLS port (nginx says the same, with status 497 → 400). */
export const PLAIN_HTTP_ON_TLS_PORT =
  'The plain HTTP request was sent to HTTPS port: use https:// for this port';

/** How long a turned-away plaintext client may take to read the 400 and hang up. */
const PLAIN_REPLY_LINGER_MS = 2000;

export interface TlsAcceptOptions {
  /** the server's certificate and key */
  context: tls.SecureContext;
  /** ALPN protocols offered, most preferred first (a client that offers none of them is refused) */
  alpn: readonly string[];
  /** the handshake (from the TCP connect on) must be done within this time; 0 = no limit */
  handshakeTimeoutMs: number;
  /** trace what happens before the HTTP layer takes over */
  trace: (kind: 'info' | 'error', text: string) => void;
}

/**
 * Take `raw` through the TLS handshake. Resolves with the TLS socket once it is established, or
 * with undefined when the connection was turned away (plain HTTP: a 400 in plaintext; anything else
 * that is not a ClientHello, a failed or late handshake, a peer that left: closed), in which case
 * `raw` is closed or closing and nothing more is to be done with it.
 */
export function acceptTls(raw: net.Socket, opts: TlsAcceptOptions): Promise<tls.TLSSocket | undefined> {
  return new Promise((resolve) => {
    let secure: tls.TLSSocket | undefined;
    let settled = false;
    const settle = (socket: tls.TLSSocket | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.off('close', gone);
      raw.off('data', first);
      resolve(socket);
    };
    const fail = (why: string): void => {
      if (settled) return;
      opts.trace('error', why);
      secure?.destroy();
      raw.destroy();
      settle(undefined);
    };
    const gone = (): void => fail('connection closed during the TLS handshake');
    const ms = opts.handshakeTimeoutMs;
    const timer = ms > 0 ? setTimeout(() => fail(`no TLS handshake within ${ms} ms`), ms) : undefined;
    timer?.unref();

    const first = (chunk: Buffer): void => {
      raw.pause();
      if (chunk[0] === TLS_HANDSHAKE) {
        raw.unshift(chunk);
        secure = handshake(raw, opts, settle, fail);
        return;
      }
      if (looksLikeHttp(chunk)) {
        const body = `${PLAIN_HTTP_ON_TLS_PORT}\n`;
        raw.end(
          'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n' +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
        // read and drop the rest of the request, so that closing does not reset the connection
        // (a reset can destroy the 400 before the client reads it); a client that stays is dropped
        raw.resume();
        setTimeout(() => raw.destroy(), PLAIN_REPLY_LINGER_MS).unref();
        opts.trace('error', 'plain HTTP request on the TLS port: answered 400');
        settle(undefined);
        return;
      }
      fail(`not a TLS handshake (first byte 0x${chunk[0]!.toString(16).padStart(2, '0')}): closed`);
    };
    raw.on('error', () => {}); // the 'close' that follows is what counts
    raw.once('close', gone);
    raw.once('data', first);
  });
}

/** A request line starts with a method: letters (a TLS ClientHello never starts with one). */
function looksLikeHttp(chunk: Buffer): boolean {
  const c = chunk[0]!;
  return c >= 0x41 && c <= 0x5a;
}

function handshake(
  raw: net.Socket,
  opts: TlsAcceptOptions,
  settle: (socket: tls.TLSSocket | undefined) => void,
  fail: (why: string) => void,
): tls.TLSSocket {
  // serverTlsSocket: a TLS error after the handshake (a record that does not decrypt) reaches
  // node:http and closes the connection, as on a tls.Server's socket, instead of leaving it open
  // until the idle timeout
  const socket = serverTlsSocket(raw, {
    secureContext: opts.context,
    ALPNProtocols: [...opts.alpn],
  });
  const onError = (err: Error): void => {
    // OpenSSL's `reason` ("wrong version number") without the library's file and line
    fail(`TLS handshake failed: ${(err as { reason?: string }).reason ?? err.message}`);
  };
  socket.on('error', onError);
  socket.once('secure', () => {
    socket.off('error', onError);
    opts.trace('info', `TLS established (${socket.getProtocol()}, ${socket.alpnProtocol || 'no ALPN'})`);
    settle(socket);
  });
  return socket;
}
