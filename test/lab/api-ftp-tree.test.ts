/**
 * The dashboard's FTP tree (`/api/v1/ftp/tree`, `/api/v1/ftp/file`): a symlink is described by its
 * target only when that lies inside the FTP root. One leading outside used to show the outside
 * file's size and date (its download was refused, the listing gave it away).
 */
import { EventEmitter } from 'node:events';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FtpView } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

describe('dashboard FTP tree', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    const root = path.join(dir, 'ftp');
    await mkdir(path.join(root, 'pub', 'docs'), { recursive: true });
    await writeFile(path.join(root, 'pub', 'a.txt'), 'inside');
    await writeFile(path.join(dir, 'secret.txt'), 'outside, 23 bytes long.');
    await symlink(path.join(dir, 'secret.txt'), path.join(root, 'pub', 'out-file'));
    await symlink(dir, path.join(root, 'pub', 'out-dir'));
    await symlink('a.txt', path.join(root, 'pub', 'in-file'));
    await symlink('docs', path.join(root, 'pub', 'in-dir'));
    const ftp = Object.assign(new EventEmitter(), {
      root,
      sessions: () => [],
      permissions: () => ({}),
    }) as FtpView;
    dash = await startDashboard({ ...testLabContext(dir), ftp }, { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
    await cleanup();
  });

  it('lists links inside the root as what they point to, links outside as "other" without size or date', async () => {
    const res = await fetch(`${dash.url}api/v1/ftp/tree?path=pub`);
    const body = (await res.json()) as {
      entries: Array<{ name: string; type: string; size: number; modified?: string }>;
    };
    const byName = Object.fromEntries(body.entries.map((e) => [e.name, e]));
    expect(byName['a.txt']).toMatchObject({ type: 'file', size: 6 });
    expect(byName['in-file']).toMatchObject({ type: 'file', size: 6 });
    expect(byName['in-dir']).toMatchObject({ type: 'dir' });
    expect(byName['out-file']).toEqual({ name: 'out-file', type: 'other', size: 0 });
    expect(byName['out-dir']).toEqual({ name: 'out-dir', type: 'other', size: 0 });
    expect((await fetch(`${dash.url}api/v1/ftp/file?path=pub/out-file`)).status).toBe(403);
    expect((await fetch(`${dash.url}api/v1/ftp/tree?path=pub/out-dir`)).status).toBe(403);
    expect(await (await fetch(`${dash.url}api/v1/ftp/file?path=pub/in-file`)).text()).toBe('inside');
  });
});
