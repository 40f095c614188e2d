/**
 * The accounts file shared by mail and FTP: `accounts.json` in the data directory, mode 0600,
 * passwords stored only as scrypt hashes (`scrypt$N$r$p$salt$hash`, base64), rewritten atomically.
 */
import { readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  ACCOUNT_NAME_RE,
  type Account,
  type AccountClass,
  type AccountsFile,
  parseAccountsFile,
  parseHash,
  SCRYPT_MAXMEM,
  serializeAccountsFile,
} from './accounts-file.js';
import { ACCOUNTS_FILE, ensureDir, writeFileAtomic } from './datadir.js';
import { NetkitError } from './errors.js';
import { withFileLock } from './file-lock.js';
import { fileError } from './fs-errors.js';
import { nodeCrypto } from './lazy.js';
import { terminalSafe } from './terminal-safe.js';

export type { Account, AccountClass, AccountsFile } from './accounts-file.js';

function scrypt(password: string, salt: Buffer, len: number, opts: object): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    nodeCrypto().scrypt(password, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** scrypt cost: N=2^14, r=8, p=1 (16 MiB, ~50 ms), the interactive-login figures of RFC 7914 §2. */
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

export function accountsPath(dataDir: string): string {
  return path.join(dataDir, ACCOUNTS_FILE);
}

/** The file a chain of symbolic links ends at, made or not yet; `file` itself when it is none. */
async function linkTarget(file: string, hops = 0): Promise<string> {
  let target: string;
  try {
    target = await readlink(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'ENOENT') return file; // a regular file, or none yet
    throw fileError(err, `cannot read ${file}`);
  }
  if (hops >= 32) throw new NetkitError('NETKIT_IO', `${file}: too many levels of symbolic links`);
  // relative to the link's real folder, as the kernel reads it (the folder may be a link itself)
  return linkTarget(path.resolve(await realpath(path.dirname(file)), target), hops + 1);
}

/** The FTP server's anonymous logins (any case): an account of that name could never log in there. */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['anonymous', 'ftp']);

/**
 * Check a name for a new account. Besides the file's own rule ({@link ACCOUNT_NAME_RE}) the name is
 * also a mailbox and an e-mail local part: a dot may not end it or follow another (`bob.@lab` and
 * `a..b@lab` are not addresses, RFC 5321 §4.1.2), and `anonymous` and `ftp` are refused in any case.
 */
export function validateAccountName(name: string): void {
  const key = name.toLowerCase();
  if (!ACCOUNT_NAME_RE.test(name) || name.endsWith('.') || name.includes('..') || RESERVED_NAMES.has(key)) {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `invalid account name "${terminalSafe(name)}": use letters, digits and . _ - (max 64, starting with a letter or digit, no dot at the end or twice in a row); anonymous and ftp are reserved`,
    );
  }
}

/** A password as `accounts.json` stores it: `scrypt$N$r$p$SALT$HASH` (random salt, base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = nodeCrypto().randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, { N, r: R, p: P, maxmem: SCRYPT_MAXMEM });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Check a password against a stored hash in constant time. A malformed hash is false, not an
 * exception, and still costs one scrypt at our own parameters so it does not answer faster.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parseHash(stored);
  if (!h) {
    await hashPassword(password);
    return false;
  }
  const actual = await scrypt(password, h.salt, h.hash.length, {
    N: h.N,
    r: h.r,
    p: h.p,
    maxmem: SCRYPT_MAXMEM,
  });
  return nodeCrypto().timingSafeEqual(actual, h.hash);
}

/**
 * Accounts store over one file. Reads are fresh each time so `netkit user add` takes effect in
 * running servers at once. Every change is a locked read → change → atomic write
 * ({@link withFileLock}), so concurrent `netkit user` commands never lose one another's update.
 */
export class AccountStore {
  constructor(readonly dataDir: string) {}

  get file(): string {
    return accountsPath(this.dataDir);
  }

  async load(): Promise<AccountsFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { version: 1, accounts: Object.create(null) };
      throw fileError(err, `cannot read ${this.file}`);
    }
    return parseAccountsFile(text, this.file);
  }

  /**
   * Read, change and write back under the lock; `change` sees the latest file. An accounts file
   * that is a symbolic link (one file shared by several data directories) is rewritten where it
   * points, and locked there, rather than replaced by a copy that the others never see; the
   * rewritten file keeps its owner (root editing the file of a server that runs as another user).
   */
  private async update<T>(change: (data: AccountsFile) => T): Promise<T> {
    await ensureDir(this.dataDir, 0o700);
    const file = await linkTarget(this.file);
    return withFileLock(file, async () => {
      const data = await this.load();
      const result = change(data);
      const current = await stat(file).catch(() => undefined);
      const owner = current && { uid: current.uid, gid: current.gid };
      await writeFileAtomic(file, serializeAccountsFile(data), 0o600, owner);
      return result;
    });
  }

  async list(): Promise<Account[]> {
    return Object.values((await this.load()).accounts).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<Account | undefined> {
    const accounts = (await this.load()).accounts;
    const key = name.toLowerCase();
    return Object.hasOwn(accounts, key) ? accounts[key] : undefined;
  }

  async add(
    name: string,
    password: string,
    opts: { class?: AccountClass; expires?: string } = {},
  ): Promise<Account> {
    validateAccountName(name);
    const key = name.toLowerCase();
    const account: Account = {
      name: key,
      class: opts.class ?? 'real',
      // hashed before taking the lock: scrypt is the slow part, and needs no file
      hash: await hashPassword(password),
      created: new Date().toISOString(),
    };
    if (opts.expires) account.expires = new Date(opts.expires).toISOString();
    return this.update((data) => {
      if (Object.hasOwn(data.accounts, key))
        throw new NetkitError('NETKIT_EXISTS', `account "${terminalSafe(name)}" already exists`);
      data.accounts[key] = account;
      return account;
    });
  }

  async setPassword(name: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    const key = name.toLowerCase();
    await this.update((data) => {
      if (!Object.hasOwn(data.accounts, key))
        throw new NetkitError('NETKIT_NOT_FOUND', `no account "${terminalSafe(name)}"`);
      data.accounts[key]!.hash = hash;
    });
  }

  async remove(name: string): Promise<void> {
    const key = name.toLowerCase();
    await this.update((data) => {
      if (!Object.hasOwn(data.accounts, key))
        throw new NetkitError('NETKIT_NOT_FOUND', `no account "${terminalSafe(name)}"`);
      delete data.accounts[key];
    });
  }

  /**
   * The account when name and password match and it has not expired; otherwise undefined. Unknown
   * names cost one scrypt like known ones, so timing does not tell which names exist.
   */
  async authenticate(name: string, password: string): Promise<Account | undefined> {
    const account = await this.get(name);
    if (!account) {
      await hashPassword(password);
      return undefined;
    }
    if (!(await verifyPassword(password, account.hash))) return undefined;
    if (account.expires && Date.parse(account.expires) < Date.now()) return undefined;
    return account;
  }
}
