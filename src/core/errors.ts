/**
 * One error class for the whole toolkit. Every failure a caller may want to branch on carries a
 * stable `code` (the undici pattern), so tests and the CLI never parse message text.
 */
import { formatHostPort } from './address.js';
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

/** Every failure netkit reports: `code` says which kind, for a `switch` (see {@link NetkitErrorCode}). */
export class NetkitError extends Error {
  readonly code: NetkitErrorCode;
  constructor(code: NetkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetkitError';
    this.code = code;
  }
}

/**
 * A server that went silent while a reply was awaited, in the words every netkit client uses:
 * `no reply from 127.0.0.1:2525 to MAIL FROM within 30000 ms`, `no greeting from 127.0.0.1:1110
 * within 30000 ms`, or `no reply from … within …` when the command is not known.
 * @param peer the server, `host:port`
 * @param what the command whose reply was awaited (as the client names it), or `greeting`
 */
export function noReply(
  peer: string,
  what: string | undefined,
  ms: number,
  options?: { cause?: unknown },
): NetkitError {
  const silent =
    what === 'greeting'
      ? `no greeting from ${peer}`
      : `no reply from ${peer}${what === undefined ? '' : ` to ${what}`}`;
  return new NetkitError('NETKIT_TIMEOUT', `${silent} within ${ms} ms`, options);
}

/**
 * The refusal of a client that upgrades whenever the server offers it (`mail send`'s STARTTLS,
 * `pop3`'s STLS) to log in to a server off this machine that offered no upgrade. Someone on the
 * path can strip the offer from the server's reply and read the password that follows (STARTTLS
 * stripping), so it is only sent in the clear when the user asked for plaintext (`plaintextFlag`):
 * the rule every netkit server applies from its side (address.ts `plaintextAllowed`).
 */
export function cleartextPasswordRefused(
  server: string,
  upgrade: 'STARTTLS' | 'STLS',
  plaintextFlag: string,
): NetkitError {
  return new NetkitError(
    'NETKIT_AUTH',
    `${server} offers no ${upgrade}: the password would cross the network in the clear, where anyone on the path can read it (and remove ${upgrade} from the server's reply); nothing was sent. Use the server's TLS port (--tls), or ${plaintextFlag} to send it in the clear anyway`,
  );
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

/**
 * What a command offers when a server's certificate fails verification, named as its --help names
 * them: `--ca FILE` for netkit's own clients, curl's `--cacert FILE` for the HTTP ones. A flag the
 * command lacks (or one that cannot help there) is left out, and so never suggested.
 */
export interface TrustFlags {
  /** trusts the certificate or its issuer, e.g. `--ca FILE` */
  ca?: string;
  /** turns verification off, e.g. `--insecure` */
  insecure?: string;
  /** checks the certificate against another name, e.g. `--servername NAME` */
  servername?: string;
}

/** The trust flags of netkit's own TLS clients (pop3, mail send, ftp; tcp and chat add --servername). */
export const NETKIT_TRUST_FLAGS: Readonly<TrustFlags> = { ca: '--ca FILE', insecure: '--insecure' };

/** The same with --servername, which `tcp connect` and `chat join` have. */
export const SOCKET_TRUST_FLAGS: Readonly<TrustFlags> = {
  ...NETKIT_TRUST_FLAGS,
  servername: '--servername NAME',
};

/** OpenSSL's verification failures in words (Node's own words are terse, and some are misleading). */
const CERT_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate (issuer unknown)',
  UNABLE_TO_GET_ISSUER_CERT: 'issuer certificate not found',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'issuer certificate not found among the trusted ones',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate revoked',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  INVALID_CA: 'invalid CA certificate',
  INVALID_PURPOSE: 'certificate not valid for a TLS server',
};

/** Failures no extra trusted certificate can fix: the certificate itself is out of date or revoked. */
const NOT_FIXED_BY_CA = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED']);

const ALTNAME = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** A certificate verification code (`DEPTH_ZERO_SELF_SIGNED_CERT`) in words, else the code itself. */
export function certificateReason(code: string): string {
  return CERT_REASONS[code] ?? code;
}

/** OpenSSL's verification codes carry no `ERR_` prefix (Node's own codes do). */
const isVerifyCode = (code: string): boolean =>
  code in CERT_REASONS ||
  (!code.startsWith('ERR_') && /CERT|CRL|^UNABLE_TO_|^INVALID_CA$|^PATH_LENGTH_EXCEEDED$/.test(code));

/**
 * Does `err`, or an error down its causes (our errors keep Node's as their cause), carry one of
 * the system error `codes`?
 */
export function hasErrorCode(err: unknown, codes: readonly string[]): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && codes.includes(code)) return true;
  }
  return false;
}

/**
 * The codes an error carries: its own, nodemailer's `originalCode` (its `code` is then `ESOCKET`)
 * and its cause's (undici, wrappers).
 */
function errorCodes(err: unknown): string[] {
  const e = err as { code?: unknown; originalCode?: unknown; cause?: { code?: unknown } } | undefined;
  return [e?.originalCode, e?.code, e?.cause?.code].filter((c): c is string => typeof c === 'string');
}

const firstLine = (err: unknown): string =>
  terminalSafe(((err as { message?: string } | undefined)?.message ?? String(err)).split(/\r?\n/)[0] ?? '');

/**
 * A server certificate that failed verification, as the one line every netkit TLS client prints,
 * or undefined when `err` is no such failure (check it before other TLS errors):
 *
 * `TLS certificate of 127.0.0.1:9443 not trusted (self-signed certificate); trust it with --ca FILE, or skip verification with --insecure`
 *
 * `TLS certificate of 127.0.0.2:990 is for another name (IP: 127.0.0.2 is not in the cert's list: …); give the name it carries with --servername NAME, or skip verification with --insecure`
 *
 * @param peer the server as the user named it, `host:port`
 * @param flags the flags of the command the user ran, so that the way out names ones it has
 */
export function certificateError(err: unknown, peer: string, flags: TrustFlags): NetkitError | undefined {
  const codes = errorCodes(err);
  const fixes: string[] = [];
  let problem: string;
  if (codes.includes(ALTNAME)) {
    const reason = (err as { reason?: unknown }).reason;
    fixes.push(
      flags.servername
        ? `give the name it carries with ${flags.servername}`
        : 'connect with a name it carries',
    );
    problem = `is for another name (${typeof reason === 'string' ? terminalSafe(reason) : firstLine(err)})`;
  } else {
    const code = codes.find(isVerifyCode);
    if (code === undefined) return undefined;
    if (flags.ca && !NOT_FIXED_BY_CA.has(code)) fixes.push(`trust it with ${flags.ca}`);
    problem = `not trusted (${CERT_REASONS[code] ?? firstLine(err)})`;
  }
  if (flags.insecure) fixes.push(`skip verification with ${flags.insecure}`);
  return new NetkitError(
    'NETKIT_CONNECT_FAILED',
    `TLS certificate of ${peer} ${problem}${fixes.length ? `; ${fixes.join(', or ')}` : ''}`,
    { cause: err },
  );
}

/**
 * A TCP connection that could not be made, in the words every client uses (`connection refused by
 * 127.0.0.1:1`, `cannot resolve host "x"`), never Node's (`connect ECONNREFUSED 127.0.0.1:1`);
 * undefined when `err` is not such a failure. Reads the code where nodemailer keeps it too.
 * @param where the server, `host:port`
 * @param host the host name the user gave (default: the one in the error)
 */
export function connectFailure(err: unknown, where: string, host?: string): NetkitError | undefined {
  const e = err as (NodeJS.ErrnoException & { hostname?: string }) | undefined;
  for (const code of errorCodes(err)) {
    switch (code) {
      case 'ECONNREFUSED':
        return new NetkitError('NETKIT_CONNECT_FAILED', `connection refused by ${where}`, { cause: err });
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new NetkitError('NETKIT_NOT_FOUND', `cannot resolve host "${host ?? e?.hostname ?? where}"`, {
          cause: err,
        });
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new NetkitError('NETKIT_CONNECT_FAILED', `${where} is unreachable`, { cause: err });
      case 'ETIMEDOUT':
        // the system's connect timeout only: a library's own ETIMEDOUT (a greeting that never came) is not one
        if (e?.syscall === 'connect')
          return new NetkitError('NETKIT_TIMEOUT', `connect to ${where} timed out`, { cause: err });
    }
  }
  return undefined;
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
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'broken pipe',
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
      return `connection refused by ${formatHostPort((sys as { address?: string }).address ?? '?', (sys as { port?: number }).port ?? 0)}`;
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
