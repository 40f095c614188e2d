/**
 * The one data directory every service shares (default `./netkit-data`): Maildirs under `mail/`,
 * the FTP tree under `ftp/`, `accounts.json`, `tls/`, chat history.
 */
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const DEFAULT_DATA_DIR = 'netkit-data';

export function resolveDataDir(dir?: string): string {
  return path.resolve(dir ?? process.env.NETKIT_DATA ?? DEFAULT_DATA_DIR);
}

export async function ensureDir(dir: string, mode = 0o755): Promise<string> {
  await mkdir(dir, { recursive: true, mode });
  return dir;
}

/**
 * Write a file so that readers see either the old or the new content, never half of it:
 * temp file in the same directory → fsync → rename.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

export { writeFile };
