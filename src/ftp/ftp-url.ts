/**
 * FTP URLs in the course's form `ftp://user:pass@host:port/dir/file` (RFC 1738 §3.2), parsed by a
 * pure function. Why not WHATWG `URL`: it resolves `..` and `%2e%2e` segments, turns `\` into `/`
 * and drops the distinction RFC 1738 makes between a path relative to the login directory
 * (`ftp://h/dir/f`) and an absolute one (`ftp://h/%2Fetc/f`) — a client must not rewrite the
 * path it was given, and it must refuse what could smuggle a second command onto the control
 * connection (CR, LF, NUL).
 *
 * `ftps://` means implicit TLS (port 990); explicit AUTH TLS is a flag, not a scheme.
 *
 * Like curl and lftp, a `%` in the path that does not start an escape (`100%.txt`) is taken
 * literally, and RFC 1738's `;type=a|i|d` suffix is split off into `typecode`.
 */
import { NetkitError } from '../core/errors.js';
import { terminalSafe } from '../core/terminal-safe.js';
import { redactUrl } from '../core/trace.js';

export interface FtpUrl {
  /** `ftps` = implicit TLS */
  scheme: 'ftp' | 'ftps';
  /** host name or IP address (IPv6 without brackets) */
  host: string;
  port: number;
  /** percent-decoded; undefined when the URL names no user (anonymous) */
  user?: string;
  /** percent-decoded; undefined when the URL carries no password */
  password?: string;
  /**
   * Percent-decoded path. Relative to the login directory unless it starts with `/` (written
   * `%2F` in the URL, RFC 1738). `''` is the login directory itself.
   */
  path: string;
  /** the URL's path ended with `/` (or had `;type=d`): it names a directory */
  isDirectory: boolean;
  /** RFC 1738 §3.2.2 `;type=` suffix: `i` binary, `a` ASCII, `d` directory listing */
  typecode?: 'a' | 'i' | 'd';
}

export const FTP_PORT = 21;
export const FTPS_IMPLICIT_PORT = 990;

function invalid(url: string, why: string): NetkitError {
  return new NetkitError('NETKIT_INVALID_INPUT', `bad FTP URL "${terminalSafe(redactUrl(url))}": ${why}`);
}

/** Strict percent-decoding: `%zz` or a truncated escape is an error, not a literal. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  if (/%(?![0-9a-fA-F]{2})/.test(text)) throw new Error(`bad percent-escape in "${text}"`);
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`"${text}" does not decode to UTF-8`);
  }
}

/** Characters that would end or split an FTP command line. */
const COMMAND_BREAKERS = /[\r\n\0]/;

/** Parse an `ftp://` or `ftps://` URL. Throws NETKIT_INVALID_INPUT with the reason. */
export function parseFtpUrl(url: string): FtpUrl {
  const m = /^(ftps?):\/\/([\s\S]*)$/i.exec(url);
  if (!m) throw invalid(url, 'must start with ftp:// or ftps://');
  const scheme = m[1]!.toLowerCase() as 'ftp' | 'ftps';
  const rest = m[2]!;
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const rawPath = slash === -1 ? '' : rest.slice(slash + 1);
  // The userinfo ends at the LAST '@' so an unencoded '@' in a password still works.
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const hostport = at === -1 ? authority : authority.slice(at + 1);

  let user: string | undefined;
  let password: string | undefined;
  try {
    if (userinfo !== undefined) {
      const colon = userinfo.indexOf(':');
      user = percentDecode(colon === -1 ? userinfo : userinfo.slice(0, colon));
      if (colon !== -1) {
        try {
          password = percentDecode(userinfo.slice(colon + 1));
        } catch {
          throw new Error('bad percent-escape in the password'); // without the password itself
        }
      }
      if (user === '') throw new Error('empty user name');
    }
  } catch (err) {
    throw invalid(url, (err as Error).message);
  }
  if ((user !== undefined && COMMAND_BREAKERS.test(user)) || (password && COMMAND_BREAKERS.test(password)))
    throw invalid(url, 'user or password contains CR, LF or NUL');

  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+(?:%[\w.-]+)?)\](?::(.*))?$/.exec(hostport);
  if (v6) {
    // a zone is written `%25eth0` in a URL (RFC 6874), as curl reads it; a bare `%eth0` is taken too
    host = v6[1]!.replace(/%25(?=[\w.-])/, '%');
    portText = v6[2];
  } else {
    if (hostport.includes('[') || hostport.includes(']')) throw invalid(url, 'malformed IPv6 address');
    const colon = hostport.indexOf(':');
    host = colon === -1 ? hostport : hostport.slice(0, colon);
    portText = colon === -1 ? undefined : hostport.slice(colon + 1);
  }
  if (host === '') throw invalid(url, 'no host');
  if (!v6 && !/^[A-Za-z0-9._-]+$/.test(host)) throw invalid(url, `"${host}" is not a host name`);
  let port = scheme === 'ftps' ? FTPS_IMPLICIT_PORT : FTP_PORT;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      throw invalid(url, `"${portText}" is not a port (1-65535)`);
    port = Number(portText);
  }

  const typed = /;type=([aid])$/i.exec(rawPath);
  const typecode = typed ? (typed[1]!.toLowerCase() as 'a' | 'i' | 'd') : undefined;
  const pathText = typed ? rawPath.slice(0, typed.index) : rawPath;
  let path: string;
  try {
    // a stray '%' is a literal one (curl, lftp): escape it before the strict decoding
    path = percentDecode(pathText.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
  } catch (err) {
    throw invalid(url, (err as Error).message);
  }
  if (COMMAND_BREAKERS.test(path)) throw invalid(url, 'path contains CR, LF or NUL');
  const isDirectory = pathText === '' || pathText.endsWith('/') || typecode === 'd';
  const out: FtpUrl = { scheme, host, port, path, isDirectory };
  if (typecode !== undefined) out.typecode = typecode;
  if (user !== undefined) out.user = user;
  if (password !== undefined) out.password = password;
  return out;
}

/** Format a URL back for display, password hidden, path percent-encoded where needed. */
export function formatFtpUrl(u: FtpUrl, path = u.path): string {
  const enc = (s: string) => encodeURIComponent(s);
  const auth = u.user !== undefined ? `${enc(u.user)}${u.password !== undefined ? ':****' : ''}@` : '';
  const host = u.host.includes(':') ? `[${u.host.replace('%', '%25')}]` : u.host;
  const defaultPort = u.scheme === 'ftps' ? FTPS_IMPLICIT_PORT : FTP_PORT;
  const port = u.port === defaultPort ? '' : `:${u.port}`;
  const segments = path.split('/').map((seg) => encodeURIComponent(seg).replace(/%40/g, '@'));
  // an absolute path starts with an empty segment, written %2F (RFC 1738)
  const p = path.startsWith('/') ? `%2F${segments.slice(1).join('/')}` : segments.join('/');
  return `${u.scheme}://${auth}${host}${port}/${p}`;
}

/** Join a remote directory and a name with `/` (FTP paths are always `/`-separated). */
export function joinRemote(dir: string, name: string): string {
  if (dir === '') return name;
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

/** The last `/`-separated segment of a remote path (`''` for a directory path ending in `/`). */
export function remoteBasename(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? p : p.slice(i + 1);
}

/** Everything before the last `/` (`''` when the path has no directory part). */
export function remoteDirname(p: string): string {
  const i = p.lastIndexOf('/');
  if (i === -1) return '';
  return i === 0 ? '/' : p.slice(0, i);
}
