/**
 * One error class for the whole toolkit. Every failure a caller may want to branch on carries a
 * stable `code` (the undici pattern), so tests and the CLI never parse message text.
 */
import { terminalSafe } from './terminal-safe.js';

export type NetkitErrorCode =
  | 'NETKIT_LINE_TOO_LONG'
  | 'NETKIT_PATH_OUTSIDE_ROOT'
  | 'NETKIT_TIMEOUT'
  | 'NETKIT_CONNECT_FAILED'
  | 'NETKIT_PROTOCOL'
  | 'NETKIT_USAGE'
  | 'NETKIT_TOO_LARGE'
  | 'NETKIT_AUTH'
  | 'NETKIT_NOT_FOUND'
  | 'NETKIT_EXISTS'
  | 'NETKIT_INVALID_INPUT'
  | 'NETKIT_ADDRESS_IN_USE'
  | 'NETKIT_CHECKSUM'
  | 'NETKIT_IO';

export class NetkitError extends Error {
  readonly code: NetkitErrorCode;
  constructor(code: NetkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetkitError';
    this.code = code;
  }
}

/** A usage error: the CLI maps it to exit code 2. */
export function usageError(message: string): NetkitError {
  return new NetkitError('NETKIT_USAGE', message);
}

/**
 * OpenSSL's "wrong version number" in words, as the one-line error for `peer`: a TLS client that
 * got plain text back spoke to a port that does not do TLS (implicit TLS asked of a STARTTLS or
 * plain port). Undefined for any other error.
 */
export function notTlsThere(err: unknown, peer: string): NetkitError | undefined {
  const e = err as { code?: string; message?: string; cause?: unknown } | undefined;
  const wrong = (x: { code?: string; message?: string } | undefined) =>
    x?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(x?.message ?? '');
  if (!wrong(e) && !wrong(e?.cause as { code?: string; message?: string } | undefined)) return undefined;
  return new NetkitError(
    'NETKIT_CONNECT_FAILED',
    `TLS with ${peer} failed: the server does not speak TLS there (wrong version number); a plain port?`,
    { cause: err },
  );
}

const SYSTEM_ERROR_WORDS: Record<string, string> = {
  EADDRNOTAVAIL: 'the address is not on this machine',
  EADDRINUSE: 'the address is in use',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'no route to the host',
  ENODEV: 'no such network interface',
  ENOPROTOOPT: 'not supported on this socket',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'cannot resolve the host name',
  EAI_AGAIN: 'cannot resolve the host name (DNS did not answer)',
  ETIMEDOUT: 'timed out',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for this file system',
  EROFS: 'read-only file system',
};

/** A system error's code in words (`EADDRNOTAVAIL` → "the address is not on this machine"), else its message. */
export function systemErrorWords(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return (e?.code && SYSTEM_ERROR_WORDS[e.code]) || (e?.message ?? String(err));
}

/** Human text for any thrown value, one line, no stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const sys = err as NodeJS.ErrnoException;
    if (sys.code === 'ECONNREFUSED' && 'address' in sys) {
      return `connection refused by ${(sys as { address?: string }).address}:${(sys as { port?: number }).port}`;
    }
    if (sys.code === 'EADDRINUSE')
      return `address already in use: ${err.message.replace(/^listen EADDRINUSE: /, '')}`;
    const at = (sys as { address?: string }).address;
    if (sys.code === 'EADDRNOTAVAIL' && (sys.syscall === 'bind' || sys.syscall === 'listen'))
      return `cannot listen on ${at ?? 'that address'}: the address is not on this machine`;
    if ((sys.code === 'ENOTFOUND' || sys.code === 'EAI_AGAIN') && sys.syscall === 'getaddrinfo')
      return `cannot resolve host "${(sys as { hostname?: string }).hostname ?? '?'}"`;
    // one line, and nothing in it (a CR, an escape sequence from a peer's text) that moves the cursor
    return terminalSafe(err.message.split(/\r?\n/)[0] ?? String(err));
  }
  return terminalSafe(String(err).split(/\r?\n/)[0] ?? '');
}
