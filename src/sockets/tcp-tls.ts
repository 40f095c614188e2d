/**
 * TLS for `tcp connect --tls` / `tcp listen --tls` (ncat `--ssl`): a handshake on an already
 * connected TCP socket, either side. Wrapping our own socket (rather than `tls.connect(port)` or
 * `tls.createServer`) keeps one code path for the connect timeout, `--source`, `--allow/--deny`
 * (checked before any TLS byte is read) and half-close: the TLS socket inherits `allowHalfOpen`, so
 * `end()` sends close_notify and FIN and we keep reading, as over plain TCP.
 *
 * The client verifies the certificate chain and the host name by default, against the system
 * roots (`defaultTrust()`), or only against a `ca` bundle when one is given.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { formatHostPort } from '../core/address.js';
import { certificateError, certificateReason, NetkitError, SOCKET_TRUST_FLAGS } from '../core/errors.js';
import { nodeTls } from '../core/lazy.js';
import { tlsErrorLine } from '../core/tls-accept.js';
import { defaultTrust, sniName } from '../core/tls-trust.js';

/** moved to core/errors.ts, shared by every TLS client; still exported here */

export interface TcpTlsClientOptions {
  /** skip certificate and host-name verification (ncat's default; ours is to verify) */
  insecure?: boolean;
  /** PEM certificate(s) to trust instead of the system roots */
  ca?: string | Buffer | Array<string | Buffer>;
  /** SNI and the name the certificate must match (default: the host, unless it is an IP address) */
  servername?: string;
  /** ALPN protocols to offer, in order of preference (e.g. `['h2', 'http/1.1']`) */
  alpn?: string[];
}

export interface TcpTlsServerOptions {
  /** a ready context, e.g. `(await loadTls(dataDir)).context` */
  context?: tls.SecureContext;
  /** or PEM certificate and key */
  cert?: string;
  /** the PEM private key of `cert` */
  key?: string;
  /** ALPN protocols the server accepts, in order of preference */
  alpn?: string[];
  /** a client that has not finished its handshake by then is dropped (default 10 s) */
  handshakeTimeoutMs?: number;
}

/** What `-v` reports about a TLS session. */
export interface TlsSessionInfo {
  /** `TLSv1.3` */
  protocol: string | null;
  /** `TLS_AES_256_GCM_SHA384` */
  cipher: string;
  /** the negotiated ALPN protocol, or false */
  alpn: string | false;
  /** the peer certificate passed verification (false with `insecure`, or for a server without client certificates) */
  authorized: boolean;
  /** why it did not (with `insecure`) */
  authorizationError?: string;
  /** the peer certificate, when it sent one */
  subject?: string;
  issuer?: string;
  validTo?: string;
  fingerprint256?: string;
}

/** A client-side TLS failure as one clear line: verification failures name their reason. */
export function tlsClientError(err: NodeJS.ErrnoException, where: string): NetkitError {
  const code = err.code ?? '';
  const cert = certificateError(err, where, SOCKET_TRUST_FLAGS);
  if (cert) return cert;
  if (code === 'ECONNRESET' || /socket disconnected|before secure TLS/i.test(err.message)) {
    return new NetkitError(
      'NETKIT_PROTOCOL',
      `TLS handshake with ${where} failed: the peer closed the connection (does it speak TLS on this port?)`,
      { cause: err },
    );
  }
  return new NetkitError(
    'NETKIT_PROTOCOL',
    `TLS handshake with ${where} failed: ${tlsErrorLine(err, 'server')}`,
    {
      cause: err,
    },
  );
}

/**
 * Run the client handshake on a connected socket; resolves once the peer is verified (or, with
 * `insecure`, once the handshake is done). The caller owns the timeout (destroy `socket` to abort).
 * @param host the host the user asked for: the default SNI and verification name
 */
export function startTlsClient(
  socket: net.Socket,
  host: string,
  port: number,
  options: TcpTlsClientOptions = {},
): Promise<tls.TLSSocket> {
  const tlsMod = nodeTls();
  const where = formatHostPort(host, port);
  const name = options.servername ?? host;
  let ca: TcpTlsClientOptions['ca'];
  if (!options.insecure && options.ca !== undefined) ca = options.ca;
  const secure = tlsMod.connect({
    socket,
    ...defaultTrust(ca),
    rejectUnauthorized: !options.insecure,
    servername: sniName(name),
    checkServerIdentity: (_host, cert) => tlsMod.checkServerIdentity(name, cert),
    ALPNProtocols: options.alpn?.length ? options.alpn : undefined,
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      secure.off('secureConnect', ok);
      secure.destroy();
      socket.destroy();
      reject(tlsClientError(err, where));
    };
    const closed = () => fail(Object.assign(new Error('socket disconnected'), { code: 'ECONNRESET' }));
    const ok = () => {
      if (settled) return;
      settled = true;
      secure.off('error', fail);
      secure.off('close', closed);
      resolve(secure);
    };
    secure.once('secureConnect', ok);
    secure.once('error', fail);
    secure.once('close', closed);
  });
}

/** Protocol, cipher and peer certificate of an established session. */
export function tlsSessionInfo(socket: tls.TLSSocket): TlsSessionInfo {
  const cipher = socket.getCipher();
  const info: TlsSessionInfo = {
    protocol: socket.getProtocol(),
    cipher: cipher?.standardName ?? cipher?.name ?? '?',
    alpn: socket.alpnProtocol ?? false,
    authorized: socket.authorized,
  };
  if (socket.authorizationError)
    info.authorizationError = certificateReason(String(socket.authorizationError));
  const cert = socket.getPeerCertificate();
  if (cert && Object.keys(cert).length > 0) {
    info.subject = distinguishedName(cert.subject);
    info.issuer = distinguishedName(cert.issuer);
    info.validTo = cert.valid_to;
    info.fingerprint256 = cert.fingerprint256;
  }
  return info;
}

/** `CN=localhost, O=Example` from Node's parsed subject (multi-valued fields joined by `+`). */
function distinguishedName(dn: tls.Certificate | undefined): string {
  if (!dn) return '';
  return Object.entries(dn)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}
