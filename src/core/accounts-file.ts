/**
 * Parsing and checking `accounts.json`. The file is meant to be edited by `netkit user`, but people
 * hand-edit it too; whatever it holds, the result is either a checked {@link AccountsFile} or one
 * `NetkitError` line naming the file and line — never a TypeError deep inside a login.
 *
 * Accounts are kept in a null-prototype object, so that a login as `constructor` or `__proto__`
 * finds no account (on a plain object it would find Object.prototype's members).
 */
import { NetkitError } from './errors.js';
import { lineCol, parseJsonFile } from './json-file.js';

export type AccountClass = 'real' | 'guest';

export interface Account {
  name: string;
  class: AccountClass;
  hash: string;
  created: string;
  /** ISO date after which login is refused (guests) */
  expires?: string;
}

export interface AccountsFile {
  version: 1;
  accounts: Record<string, Account>;
}

export const ACCOUNT_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/** scrypt$N$r$p$salt$hash with N a power of two and a memory cost under `maxmem`. */
const HASH_RE = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
export const SCRYPT_MAXMEM = 64 * 1024 * 1024;

export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** The parts of a stored hash, or undefined when it is not one we can check safely. */
export function parseHash(stored: unknown): ScryptHash | undefined {
  if (typeof stored !== 'string') return undefined;
  const m = HASH_RE.exec(stored);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // node's scrypt throws on these; a hand-edited N=2^30 would also ask for gigabytes
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1 || 128 * N * r > SCRYPT_MAXMEM / 2) return undefined;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { N, r, p, salt, hash };
}

/** The line where the entry `"key": {` begins (1 when it cannot be found). */
function lineOfKey(text: string, key: string): number {
  const at = text.indexOf(`${JSON.stringify(key)}:`);
  const spaced = at === -1 ? text.search(new RegExp(`${escapeRe(JSON.stringify(key))}\\s*:`)) : at;
  return spaced === -1 ? 1 : lineCol(text, spaced).line;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What is wrong with one entry, or undefined when it is fine. */
function entryProblem(key: string, a: unknown): string | undefined {
  if (!ACCOUNT_NAME_RE.test(key) || key !== key.toLowerCase()) return `"${key}" is not a valid account name`;
  if (!a || typeof a !== 'object' || Array.isArray(a)) return `account "${key}" is not an object`;
  const acc = a as Record<string, unknown>;
  if (acc.name === undefined) return `account "${key}" has no "name" (it should be "${key}")`;
  if (acc.name !== key) return `account "${key}" has "name": ${JSON.stringify(acc.name)}, not "${key}"`;
  if (acc.class !== 'real' && acc.class !== 'guest')
    return `account "${key}" has "class": ${JSON.stringify(acc.class)} (use "real" or "guest")`;
  if (!parseHash(acc.hash))
    return `account "${key}" has no valid "hash" (expected scrypt$N$r$p$salt$hash, as netkit user writes it)`;
  if (typeof acc.created !== 'string' || Number.isNaN(Date.parse(acc.created)))
    return `account "${key}" has no valid "created" date`;
  if (acc.expires !== undefined && (typeof acc.expires !== 'string' || Number.isNaN(Date.parse(acc.expires))))
    return `account "${key}" has an invalid "expires" date`;
  return undefined;
}

/** Parse and check the text of an accounts file; errors name `file` and the line. */
export function parseAccountsFile(text: string, file: string): AccountsFile {
  const data = parseJsonFile(text, file, 'NETKIT_IO');
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new NetkitError('NETKIT_IO', `${file}:1: expected {"version": 1, "accounts": {…}}`);
  }
  const obj = data as Record<string, unknown>;
  const accounts = obj.accounts;
  if (!accounts || typeof accounts !== 'object' || Array.isArray(accounts)) {
    const line = 'accounts' in obj ? lineOfKey(text, 'accounts') : 1;
    throw new NetkitError('NETKIT_IO', `${file}:${line}: "accounts" must be an object`);
  }
  if (obj.version !== undefined && obj.version !== 1) {
    throw new NetkitError(
      'NETKIT_IO',
      `${file}:${lineOfKey(text, 'version')}: unsupported version ${JSON.stringify(obj.version)} (expected 1)`,
    );
  }
  const checked: Record<string, Account> = Object.create(null);
  for (const [key, a] of Object.entries(accounts)) {
    const problem = entryProblem(key, a);
    if (problem) throw new NetkitError('NETKIT_IO', `${file}:${lineOfKey(text, key)}: ${problem}`);
    checked[key] = a as Account;
  }
  return { version: 1, accounts: checked };
}

export function serializeAccountsFile(data: AccountsFile): string {
  return `${JSON.stringify({ version: 1, accounts: { ...data.accounts } }, null, 2)}\n`;
}
