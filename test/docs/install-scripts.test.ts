/**
 * `npm ci` in a fresh clone must be quiet: since npm 11.16 every dependency with an install script
 * that package.json's `allowScripts` does not name is listed in a warning ("install scripts not yet
 * covered by allowScripts"), and npm 12 skips those scripts. The lockfile says which packages have
 * one; each must be reviewed and named.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/net.js';

const read = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

describe('install scripts', () => {
  it('every dependency the lockfile marks as having one is named in allowScripts', () => {
    const lock = read('package-lock.json') as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const allowed = (read('package.json') as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    const withScripts = Object.entries(lock.packages)
      .filter(([where, p]) => where !== '' && p.hasInstallScript)
      .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    // an entry is the name (every version) or name@version, as `npm install-scripts approve` writes it
    const named = (name: string) => Object.keys(allowed).some((k) => k === name || k.startsWith(`${name}@`));
    expect(withScripts.filter((name) => !named(name))).toEqual([]);
  });
});
