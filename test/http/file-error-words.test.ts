/**
 * The HTTP library's own file errors (a multipart file, the cookie jar) say what went wrong in
 * words, as the CLI's printer does (core/fs-errors.ts) — not Node's `ENOENT: no such file or
 * directory, stat '…'`, and never the cookie jar's temporary file name.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCookieFile, writeCookieFile } from '../../src/http/cookie-file.js';
import { prepareMultipart } from '../../src/http/multipart.js';
import { tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-http-file-errors-'));
  await writeFile(path.join(dir, 'photo.jpg'), 'not a folder');
});
afterAll(() => cleanup());

async function messageOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a failure');
}

const RAW = /\bE[A-Z]{3,}\b|\.tmp\b/;

describe('HTTP file errors in words', () => {
  it('a missing multipart file', async () => {
    const file = path.join(dir, 'missing.bin');
    const msg = await messageOf(() => prepareMultipart([{ name: 'f', file }]));
    expect(msg).toBe(`cannot read ${file}: no such file or directory`);
  });

  it('a cookie jar that is a directory cannot be read', async () => {
    const msg = await messageOf(() => readCookieFile(dir));
    expect(msg).toMatch(/^cannot read cookie file .*: /);
    expect(msg).not.toMatch(RAW);
  });

  it('a cookie jar inside a file names the file in the way, not a temporary name', async () => {
    const jar = path.join(dir, 'photo.jpg', 'jar.txt');
    const msg = await messageOf(() => writeCookieFile(jar, []));
    expect(msg).toBe(`cannot write cookie file ${jar}: ${path.join(dir, 'photo.jpg')} is not a directory`);
    expect(msg).not.toMatch(RAW);
  });
});
