/**
 * The three FTP account classes of the course's FTP chapter, mapped onto the FTP root:
 *
 * ```
 * ROOT/home/NAME   real accounts (accounts file, class "real"): full rights, created on first login
 * ROOT/guest       guest accounts (class "guest", optional expiry): shared, list+download+upload
 * ROOT/pub         anonymous (user "anonymous" or "ftp", any e-mail as password): read-only
 * ROOT/incoming    anonymous drop box (optional): upload only, no listing, download or overwrite
 * ```
 *
 * A login becomes an {@link FtpIdentity}: the user, the class, and a {@link VirtualFs} whose mounts
 * carry each area's permissions. Passwords are checked by the shared {@link AccountStore}.
 */
import path from 'node:path';
import { type AccountStore, hashPassword, verifyPassword } from '../core/accounts.js';
import { ensureDir, type ServerSecrets } from '../core/datadir.js';
import { type ClassPermissions, DEFAULT_PERMISSIONS, Permissions } from './permissions.js';
import { type Mount, VirtualFs } from './vfs.js';

export type FtpAccountClass = 'real' | 'guest' | 'anonymous';

export interface FtpIdentity {
  user: string;
  class: FtpAccountClass;
  vfs: VirtualFs;
  /** the virtual directory a session starts in */
  home: string;
}

export interface FtpAccountPolicy {
  /** the FTP root (real directory) */
  root: string;
  /** allow anonymous logins (default true) */
  anonymous?: boolean;
  /** offer the anonymous incoming/ drop box (default false) */
  anonymousUpload?: boolean;
  /** permission letters per class (defaults in {@link DEFAULT_PERMISSIONS}) */
  permissions?: Partial<ClassPermissions>;
  /** let guests overwrite existing files (default false) */
  guestOverwrite?: boolean;
  /**
   * what no session may see or touch (the server's data directory, its secrets; see vfs.ts): it
   * answers as missing and is left out of listings
   */
  hidden?: ServerSecrets;
}

export const ANONYMOUS_NAMES: ReadonlySet<string> = new Set(['anonymous', 'ftp']);

export function isAnonymousName(name: string): boolean {
  return ANONYMOUS_NAMES.has(name.toLowerCase());
}

/** Permission letters with the defaults filled in, validated (throws on an unknown letter). */
export function classPermissions(policy: FtpAccountPolicy): Record<keyof ClassPermissions, Permissions> {
  const p = { ...DEFAULT_PERMISSIONS, ...policy.permissions };
  return {
    real: new Permissions(p.real),
    guest: new Permissions(p.guest),
    anonymous: new Permissions(p.anonymous),
    incoming: new Permissions(p.incoming),
  };
}

/** Create the shared areas (home/, guest/, pub/, incoming/ when enabled). */
export async function prepareTree(policy: FtpAccountPolicy): Promise<void> {
  await ensureDir(path.join(policy.root, 'home'));
  await ensureDir(path.join(policy.root, 'guest'));
  await ensureDir(path.join(policy.root, 'pub'));
  if (policy.anonymousUpload) await ensureDir(path.join(policy.root, 'incoming'));
}

/** The identity (mount table) of a logged-in user of a class. */
export async function identityFor(
  name: string,
  cls: FtpAccountClass,
  policy: FtpAccountPolicy,
  perms = classPermissions(policy),
): Promise<FtpIdentity> {
  if (cls === 'anonymous') {
    return {
      user: name,
      class: cls,
      vfs: new VirtualFs(anonymousMounts(policy, perms), policy.hidden),
      home: '/',
    };
  }
  const mounts: Mount[] = [];
  if (cls === 'real') {
    const home = path.join(policy.root, 'home', name);
    await ensureDir(home);
    mounts.push({ path: '/', dir: home, perms: perms.real });
  } else {
    const dir = path.join(policy.root, 'guest');
    await ensureDir(dir);
    mounts.push({ path: '/', dir, perms: perms.guest, noOverwrite: !policy.guestOverwrite });
  }
  return { user: name, class: cls, vfs: new VirtualFs(mounts, policy.hidden), home: '/' };
}

/**
 * The anonymous mount table, built once per server (keyed by its shared permissions object) rather
 * than per login: every anonymous session has the same mounts, and their path strings and objects
 * otherwise stay alive for each session's lifetime. Mounts are never modified.
 */
const anonymousTables = new WeakMap<object, { root: string; upload: boolean; mounts: readonly Mount[] }>();

function anonymousMounts(
  policy: FtpAccountPolicy,
  perms: Record<keyof ClassPermissions, Permissions>,
): readonly Mount[] {
  const upload = policy.anonymousUpload === true;
  const cached = anonymousTables.get(perms);
  if (cached && cached.root === policy.root && cached.upload === upload) return cached.mounts;
  const mounts: Mount[] = [{ path: '/pub', dir: path.join(policy.root, 'pub'), perms: perms.anonymous }];
  if (upload) {
    mounts.push({
      path: '/incoming',
      dir: path.join(policy.root, 'incoming'),
      perms: perms.incoming,
      noOverwrite: true,
    });
  }
  // in VirtualFs order (deepest first), so that each session's VirtualFs takes it as it is
  mounts.sort((a, b) => b.path.length - a.path.length);
  anonymousTables.set(perms, { root: policy.root, upload, mounts });
  return mounts;
}

export type LoginResult =
  | { ok: true; identity: FtpIdentity }
  | { ok: false; reason: 'invalid' | 'expired' | 'anonymous-disabled' }
  /** the accounts file could not be read or is corrupt: the server's fault, not the user's */
  | { ok: false; reason: 'unavailable'; error: string };

/**
 * Check a USER/PASS pair. Anonymous names accept any password (conventionally an e-mail address).
 * Unknown names cost the same scrypt time as known ones. An expired guest is told so, but only
 * after the right password (the expiry is no secret from the account's owner). An accounts file that
 * cannot be read or parsed is `unavailable` (with the reason naming file and line), never `invalid`:
 * a broken server-side file must not look like a wrong password.
 */
export async function authenticate(
  store: AccountStore,
  name: string,
  password: string,
  policy: FtpAccountPolicy,
  perms = classPermissions(policy),
): Promise<LoginResult> {
  if (isAnonymousName(name)) {
    if (policy.anonymous === false) return { ok: false, reason: 'anonymous-disabled' };
    return { ok: true, identity: await identityFor('anonymous', 'anonymous', policy, perms) };
  }
  let account: Awaited<ReturnType<AccountStore['get']>>;
  try {
    account = await store.get(name);
  } catch (err) {
    return { ok: false, reason: 'unavailable', error: (err as Error).message };
  }
  if (!account) {
    await hashPassword(password);
    return { ok: false, reason: 'invalid' };
  }
  if (!(await verifyPassword(password, account.hash))) return { ok: false, reason: 'invalid' };
  if (account.expires && Date.parse(account.expires) < Date.now()) return { ok: false, reason: 'expired' };
  const cls: FtpAccountClass = account.class === 'guest' ? 'guest' : 'real';
  return { ok: true, identity: await identityFor(account.name, cls, policy, perms) };
}
