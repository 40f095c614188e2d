/**
 * A test FTP server on port 0 over a temporary tree: accounts alice (real), gus (guest),
 * old (expired guest); pub/ with a few files; a canary file OUTSIDE the FTP root, and symbolic
 * links inside alice's home that point at it, so jail tests can prove nothing outside was read or
 * touched.
 */
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AccountStore } from '../../src/core/accounts.js';
import { createFtpServer, type FtpServerHandle, type FtpServerOptions } from '../../src/ftp/server.js';
import type { FtpSessionEvent } from '../../src/ftp/session.js';
import { tempDir } from '../helpers/net.js';
import { RawFtp } from './raw-client.js';

export const PASSWORDS = { alice: 'alice-pw', gus: 'gus-pw', old: 'old-pw' } as const;
export const CANARY = 'canary: must never be read or changed';

export interface Fixture {
  base: string;
  root: string;
  data: string;
  canary: string;
  server: FtpServerHandle;
  port: number;
  /** every path under base (outside-root files included), to prove nothing appeared outside */
  snapshotOutside(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** The accounts file is made once per data dir (scrypt is deliberately slow). */
export async function makeAccounts(data: string): Promise<void> {
  const store = new AccountStore(data);
  await store.add('alice', PASSWORDS.alice);
  await store.add('gus', PASSWORDS.gus, { class: 'guest', expires: '2999-01-01' });
  await store.add('old', PASSWORDS.old, { class: 'guest', expires: '2001-01-01' });
}

export async function startFixture(
  opts: Partial<FtpServerOptions> = {},
  prepared?: { base: string },
): Promise<Fixture> {
  const t = prepared ? { dir: prepared.base, cleanup: async () => {} } : await tempDir('netkit-ftp-');
  const base = t.dir;
  const root = path.join(base, 'ftp');
  const data = path.join(base, 'data');
  const canary = path.join(base, 'canary.txt');
  if (!prepared) {
    await mkdir(path.join(root, 'pub/docs'), { recursive: true });
    await mkdir(path.join(root, 'home/alice'), { recursive: true });
    await writeFile(path.join(root, 'pub/readme.txt'), 'line one\nline two\n');
    await writeFile(path.join(root, 'pub/docs/naïve 日本.txt'), 'utf-8 name\n');
    await writeFile(canary, CANARY);
    await symlink(canary, path.join(root, 'home/alice/canary-link'));
    await symlink(base, path.join(root, 'home/alice/base-link'));
    await symlink('../../..', path.join(root, 'home/alice/up-link'));
    await makeAccounts(data);
  }
  const server = await createFtpServer({
    root,
    dataDir: data,
    port: 0,
    anonymousUpload: true,
    loginFailureDelayMs: 20,
    maxClients: 1000,
    maxClientsPerIp: 1000,
    ...opts,
    limits: { dataConnectTimeoutMs: 15_000, ...opts.limits },
  });
  const snapshotOutside = async () => {
    const out: string[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (full === root) continue;
        out.push(full);
        if (e.isDirectory()) await walk(full);
      }
    };
    await walk(base);
    return out.sort();
  };
  return {
    base,
    root,
    data,
    canary,
    server,
    port: server.port,
    snapshotOutside,
    cleanup: async () => {
      await server.close(500);
      await t.cleanup();
    },
  };
}

/** A raw control connection logged in as alice, in TYPE I. */
export async function loginAlice(fx: Fixture): Promise<RawFtp> {
  const c = await RawFtp.connect(fx.port);
  await c.login('alice', PASSWORDS.alice);
  await c.cmd('TYPE I');
  return c;
}

/** Resolves with the first session event of the fixture's server that matches. */
export function nextSessionEvent(
  fx: Fixture,
  match: (e: FtpSessionEvent) => boolean,
): Promise<FtpSessionEvent> {
  return new Promise((resolve) => {
    const on = (e: FtpSessionEvent) => {
      if (match(e)) {
        fx.server.off('session', on);
        resolve(e);
      }
    };
    fx.server.on('session', on);
  });
}
