/**
 * The server side of an implicit-TLS handshake on an accepted socket, for listeners that wrap
 * their own sockets (`tcp listen --tls`, `listenTcp({tls})`): the handshake within a time limit,
 * and one error type that says in a line why it failed.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { NetkitError } from './errors.js';
import { DEFAULT_TLS_HANDSHAKE_MS, serverTlsSocket } from './tls-server-socket.js';

/** A server-side handshake failure, for the listener to report. */
export class TlsHandshakeError extends NetkitError {
  constructor(message: string, cause?: unknown) {
    super('NETKIT_PROTOCOL', message, { cause });
    this.name = 'TlsHandshakeError';
  }
}

/**
 * Run the server handshake on an accepted socket. Rejects with a {@link TlsHandshakeError} (the
 * socket destroyed) when the client speaks something else, gives up, or stalls past the timeout.
 */
export function acceptTls(
  socket: net.Socket,
  context: tls.SecureContext,
  options: { alpn?: string[]; handshakeTimeoutMs?: number } = {},
): Promise<tls.TLSSocket> {
  // serverTlsSocket: a TLS error after the handshake (a broken record, a refused
  // renegotiation) closes the connection, as on a tls.Server's socket, instead of going unnoticed
  const secure = serverTlsSocket(socket, {
    secureContext: context,
    ALPNProtocols: options.alpn?.length ? options.alpn : undefined,
  });
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.off('end', gone);
      secure.off('close', gone);
      socket.off('close', gone);
      if (!err) return resolve(secure);
      secure.destroy();
      socket.destroy();
      reject(
        err instanceof TlsHandshakeError ? err : new TlsHandshakeError(tlsErrorLine(err, 'client'), err),
      );
    };
    const gone = () => finish(new TlsHandshakeError('closed by the client during the handshake'));
    const timer =
      timeoutMs > 0
        ? setTimeout(() => finish(new TlsHandshakeError(`no handshake within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
    secure.once('secure', () => finish());
    secure.once('error', (err: Error) => finish(err));
    secure.once('end', gone);
    secure.once('close', gone);
    socket.once('close', gone);
  });
}

/**
 * Does `chunk` open a TLS connection — a handshake record (type 22, version 3.x), the ClientHello
 * a TLS client sends first? A plain-text service that sees one knows the client wanted its TLS port.
 */
export function isTlsHandshake(chunk: Uint8Array): boolean {
  return chunk.length >= 2 && chunk[0] === 0x16 && chunk[1] === 0x03;
}

/**
 * A TLS error in one line, with a hint when the peer does not speak TLS at all. OpenSSL messages
 * carry a library prefix, a source location and a newline
 * (`…:SSL routines:ssl3_get_record:wrong version number:../deps/…:350:`): keep the reason.
 */
export function tlsErrorLine(err: Error, peer: 'client' | 'server'): string {
  const reason = (err as { reason?: unknown }).reason;
  const text =
    typeof reason === 'string' && reason !== ''
      ? reason
      : (/SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1] ?? err.message.split('\n')[0] ?? '');
  return /wrong version number|http request|unknown protocol|packet length too long/i.test(text)
    ? `${text} (${peer === 'client' ? 'not a TLS client?' : 'does the server speak TLS on this port?'})`
    : text;
}
