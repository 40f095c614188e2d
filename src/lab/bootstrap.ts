/**
 * First run of the lab: demo accounts (a real user and a guest, with random passwords saved to
 * `lab-credentials.json`, mode 0600, so every start can print them) and the FTP tree
 * (`pub/` with a sample file, `incoming/`, `guest/`, `home/NAME`).
 *
 * What is printed must log in. When the lab makes the credentials file (first run, or after it
 * was deleted) it sets both passwords, on accounts it creates or finds; on a later start it
 * checks that each saved password still opens its account, and says so when an administrator
 * has changed it (`netkit user passwd`) or removed the account, rather than printing a password
 * that no longer works. A credentials file it cannot read is one line naming it, not a TypeError.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AccountStore, verifyPassword } from '../core/accounts.js';
import { ensureDir, writeFileAtomic } from '../core/datadir.js';
import { errorMessage, NetkitError } from '../core/errors.js';
import { fileError } from '../core/fs-errors.js';
import { parseJsonFile } from '../core/json-file.js';

export interface LabAccount {
  user: string;
  /** the password the lab set; absent when it no longer opens the account */
  password?: string;
  /** the account has been removed (`netkit user remove`) since the lab made it */
  removed?: boolean;
}

export interface LabCredentials {
  real: LabAccount;
  guest: LabAccount;
}

/** What `lab-credentials.json` holds: the passwords the lab set. */
interface SavedCredentials {
  real: { user: string; password: string };
  guest: { user: string; password: string };
}

export const CREDENTIALS_FILE = 'lab-credentials.json';

export const SAMPLE_TEXT = `Welcome to the netkit lab.

This file lives in the anonymous FTP area (pub/) and is also served by the HTTP file server.
Try (with the lab's default ports; \`netkit lab\` prints the ports it really uses):
  curl ftp://127.0.0.1:2121/pub/README.txt
  curl http://127.0.0.1:8080/README.txt
  netkit download http://127.0.0.1:8080/README.txt -c 4
`;

export function ftpRoot(dataDir: string): string {
  return path.join(dataDir, 'ftp');
}

function isSavedAccount(v: unknown): v is { user: string; password: string } {
  const a = v as Record<string, unknown> | null;
  return typeof a === 'object' && a !== null && typeof a.user === 'string' && typeof a.password === 'string';
}

/** What to do about a credentials file the lab cannot use. */
const START_AFRESH = 'delete it, and the next start sets new passwords for the demo accounts';

/** The saved credentials, undefined when there are none yet; a file that is not ours is an error. */
async function readSaved(file: string): Promise<SavedCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(err, `cannot read ${file}`);
  }
  let data: Partial<SavedCredentials> | null;
  try {
    data = parseJsonFile(text, file, 'NETKIT_IO') as Partial<SavedCredentials> | null;
  } catch (err) {
    // the same words as for the accounts file (`FILE:4: not valid JSON (…)`), and the way out
    throw new NetkitError('NETKIT_IO', `${errorMessage(err)}; ${START_AFRESH}`);
  }
  if (
    typeof data !== 'object' ||
    data === null ||
    !isSavedAccount(data.real) ||
    !isSavedAccount(data.guest)
  ) {
    throw new NetkitError(
      'NETKIT_IO',
      `${file}: not the lab's credentials ({"real": {"user", "password"}, "guest": {…}}); ${START_AFRESH}`,
    );
  }
  return { real: data.real, guest: data.guest };
}

/** Set the lab's password on its account, creating the account when it is not there. */
async function takeOver(accounts: AccountStore, saved: SavedCredentials): Promise<void> {
  for (const [a, cls] of [
    [saved.real, 'real'],
    [saved.guest, 'guest'],
  ] as const) {
    if (await accounts.get(a.user)) await accounts.setPassword(a.user, a.password);
    else await accounts.add(a.user, a.password, { class: cls });
  }
}

/** A saved account as it is now: with its password only while that still opens it. */
async function current(
  accounts: AccountStore,
  saved: { user: string; password: string },
): Promise<LabAccount> {
  const account = await accounts.get(saved.user);
  if (!account) return { user: saved.user, removed: true };
  return (await verifyPassword(saved.password, account.hash)) ? { ...saved } : { user: saved.user };
}

export async function bootstrapLab(dataDir: string): Promise<LabCredentials> {
  await ensureDir(dataDir, 0o700);
  const credFile = path.join(dataDir, CREDENTIALS_FILE);
  const accounts = new AccountStore(dataDir);
  let saved = await readSaved(credFile);
  let creds: LabCredentials;
  if (saved) {
    const [real, guest] = await Promise.all([current(accounts, saved.real), current(accounts, saved.guest)]);
    creds = { real, guest };
  } else {
    saved = {
      real: { user: 'demo', password: randomBytes(6).toString('base64url') },
      guest: { user: 'visitor', password: randomBytes(6).toString('base64url') },
    };
    await takeOver(accounts, saved);
    await writeFileAtomic(credFile, `${JSON.stringify(saved, null, 2)}\n`, 0o600);
    creds = { real: { ...saved.real }, guest: { ...saved.guest } };
  }
  const root = ftpRoot(dataDir);
  for (const d of ['pub', 'incoming', 'guest', path.join('home', saved.real.user)]) {
    await ensureDir(path.join(root, d));
  }
  const sample = path.join(root, 'pub', 'README.txt');
  await writeFile(sample, SAMPLE_TEXT, { flag: 'wx' }).catch(() => {});
  return creds;
}
