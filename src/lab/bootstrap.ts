/**
 * First run of the lab: demo accounts (a real user and a guest, with random passwords saved to
 * `lab-credentials.json`, mode 0600, so every start can print them) and the FTP tree
 * (`pub/` with a sample file, `incoming/`, `guest/`, `home/NAME`).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AccountStore } from '../core/accounts.js';
import { ensureDir, writeFileAtomic } from '../core/datadir.js';

export interface LabCredentials {
  real: { user: string; password: string };
  guest: { user: string; password: string };
}

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

export async function bootstrapLab(dataDir: string): Promise<LabCredentials> {
  await ensureDir(dataDir, 0o700);
  const credFile = path.join(dataDir, 'lab-credentials.json');
  let creds: LabCredentials | undefined;
  try {
    creds = JSON.parse(await readFile(credFile, 'utf8')) as LabCredentials;
  } catch {
    creds = undefined;
  }
  const accounts = new AccountStore(dataDir);
  if (!creds) {
    creds = {
      real: { user: 'demo', password: randomBytes(6).toString('base64url') },
      guest: { user: 'visitor', password: randomBytes(6).toString('base64url') },
    };
    if (!(await accounts.get(creds.real.user))) await accounts.add(creds.real.user, creds.real.password);
    if (!(await accounts.get(creds.guest.user))) {
      await accounts.add(creds.guest.user, creds.guest.password, { class: 'guest' });
    }
    await writeFileAtomic(credFile, `${JSON.stringify(creds, null, 2)}\n`, 0o600);
  }
  const root = ftpRoot(dataDir);
  for (const d of ['pub', 'incoming', 'guest', path.join('home', creds.real.user)]) {
    await ensureDir(path.join(root, d));
  }
  const sample = path.join(root, 'pub', 'README.txt');
  await writeFile(sample, SAMPLE_TEXT, { flag: 'wx' }).catch(() => {});
  return creds;
}
