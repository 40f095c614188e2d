/**
 * The accounts file shared by mail and FTP: `accounts.json` in the data directory, mode 0600,
 * passwords stored only as scrypt hashes (`scrypt$N$r$p$salt$hash`, base64), rewritten atomically.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, writeFileAtomic } from './datadir.js';
import { NetkitError } from './errors.js';
import { nodeCrypto } from './lazy.js';

function scrypt(password: string, salt: Buffer, len: number, opts: object): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    nodeCrypto().scrypt(password, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

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

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

export function accountsPath(dataDir: string): string {
  return path.join(dataDir, 'accounts.json');
}

export function validateAccountName(name: string): void {
  if (!NAME_RE.test(name) || name === 'anonymous' || name === 'ftp') {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `invalid account name "${name}": use letters, digits, . _ - (max 64); anonymous and ftp are reserved`,
    );
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = nodeCrypto().randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashB64, 'base64');
  const actual = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return actual.length === expected.length && nodeCrypto().timingSafeEqual(actual, expected);
}

/** Accounts store over one file. Reads are fresh each time so `netkit user add` takes effect live. */
export class AccountStore {
  constructor(readonly dataDir: string) {}

  get file(): string {
    return accountsPath(this.dataDir);
  }

  async load(): Promise<AccountsFile> {
    try {
      const data = JSON.parse(await readFile(this.file, 'utf8')) as AccountsFile;
      if (!data || typeof data.accounts !== 'object') throw new Error('bad format');
      return data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, accounts: {} };
      throw new NetkitError('NETKIT_IO', `cannot read ${this.file}: ${(err as Error).message}`);
    }
  }

  private async save(data: AccountsFile): Promise<void> {
    await ensureDir(this.dataDir, 0o700);
    await writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, 0o600);
  }

  async list(): Promise<Account[]> {
    return Object.values((await this.load()).accounts).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<Account | undefined> {
    return (await this.load()).accounts[name.toLowerCase()];
  }

  async add(
    name: string,
    password: string,
    opts: { class?: AccountClass; expires?: string } = {},
  ): Promise<Account> {
    validateAccountName(name);
    const data = await this.load();
    const key = name.toLowerCase();
    if (data.accounts[key]) throw new NetkitError('NETKIT_EXISTS', `account "${name}" already exists`);
    const account: Account = {
      name: key,
      class: opts.class ?? 'real',
      hash: await hashPassword(password),
      created: new Date().toISOString(),
    };
    if (opts.expires) account.expires = new Date(opts.expires).toISOString();
    data.accounts[key] = account;
    await this.save(data);
    return account;
  }

  async setPassword(name: string, password: string): Promise<void> {
    const data = await this.load();
    const account = data.accounts[name.toLowerCase()];
    if (!account) throw new NetkitError('NETKIT_NOT_FOUND', `no account "${name}"`);
    account.hash = await hashPassword(password);
    await this.save(data);
  }

  async remove(name: string): Promise<void> {
    const data = await this.load();
    if (!data.accounts[name.toLowerCase()]) throw new NetkitError('NETKIT_NOT_FOUND', `no account "${name}"`);
    delete data.accounts[name.toLowerCase()];
    await this.save(data);
  }

  /** The account when name and password match and it has not expired; otherwise undefined. */
  async authenticate(name: string, password: string): Promise<Account | undefined> {
    const account = await this.get(name);
    if (!account) {
      // spend the same time as a real check so timing does not reveal which names exist
      await hashPassword(password);
      return undefined;
    }
    if (!(await verifyPassword(password, account.hash))) return undefined;
    if (account.expires && Date.parse(account.expires) < Date.now()) return undefined;
    return account;
  }
}
