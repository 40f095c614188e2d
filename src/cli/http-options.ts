/**
 * Options shared by the commands that make HTTP requests (`http`, `download`): proxies, as curl's
 * `-x`/`--noproxy`, the `--cacert` trust file, and Basic-auth credentials, found as curl finds them: `-u user:password` (the
 * password asked for, or NETKIT_PASSWORD, when missing), else with `-n` / `--netrc-file` the netrc
 * entry for the URL's host (for the URL's user, when it names one without a password), unless the
 * URL carries a password of its own.
 */
import { readFile } from 'node:fs/promises';
import { Option } from 'commander';
import { usageError } from '../core/errors.js';
import { netrcLogin } from '../core/netrc.js';
import { decodeUserinfo } from '../http/userinfo.js';
import { checkReadable, readPassword } from './util.js';

export interface HttpAuthFlags {
  user?: string;
  netrc?: boolean;
  netrcFile?: string;
}

/** `-x, --proxy URL`, as in curl, for the commands that make HTTP requests. */
export function proxyOption(): Option {
  return new Option(
    '-x, --proxy <url>',
    "proxy http://[USER:PASSWORD@]HOST:PORT (or https://); '' = none (default: $http_proxy, $https_proxy, $all_proxy)",
  );
}

/** `--noproxy HOSTS`, as in curl. */
export function noProxyOption(): Option {
  return new Option(
    '--noproxy <hosts>',
    "hosts reached without the proxy: 'a.example,.b.example,*' (default: $no_proxy)",
  );
}

/** `--cacert FILE`, as in curl: these CA certificates replace the system's roots. */
export function cacertOption(): Option {
  return new Option(
    '--cacert <file>',
    'trust the CA certificates of this PEM file instead of the system ones',
  );
}

/** The PEM text of a --cacert file (a missing or unreadable file is a one-line error). */
export async function readCaCert(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  await checkReadable('--cacert', file);
  return readFile(file, 'utf8');
}

export function userOption(): Option {
  return new Option('-u, --user <user[:password]>', 'basic auth (asks for the password when it is missing)');
}

export function netrcOption(): Option {
  return new Option('-n, --netrc', 'basic auth from ~/.netrc (or $NETRC) for the URL host, as in curl');
}

export function netrcFileOption(): Option {
  return new Option('--netrc-file <file>', 'like --netrc, from this file');
}

export async function basicAuth(
  url: string,
  flags: HttpAuthFlags,
): Promise<{ username: string; password: string } | undefined> {
  if (flags.user !== undefined) {
    const i = flags.user.indexOf(':');
    const username = i === -1 ? flags.user : flags.user.slice(0, i);
    if (i !== -1) return { username, password: flags.user.slice(i + 1) };
    if (process.env.NETKIT_PASSWORD === undefined && !process.stdin.isTTY)
      throw usageError(
        `no password for -u ${username}: use -u ${username}:PASSWORD, NETKIT_PASSWORD or a TTY`,
      );
    return { username, password: await readPassword(undefined, `Password for ${username}: `) };
  }
  if (!flags.netrc && flags.netrcFile === undefined) return undefined;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return undefined; // the command reports the bad URL itself
  }
  if (target.password) return undefined; // the URL carries its own
  // a user name in the URL picks that user's entry (its password completes the URL's login)
  const login = target.username ? decodeUserinfo(target.username) : undefined;
  const saved = await netrcLogin(target.hostname, login, flags.netrcFile);
  const username = login ?? saved?.login;
  return username === undefined ? undefined : { username, password: saved?.password ?? '' };
}
