/**
 * File-system failures in words: the verb from the system call, the reason from the code and, where
 * the code is vague (ENOTDIR, ENOENT), from the path itself — which component is in the way, which
 * folder is missing. Real errors from a temporary directory, plus Node's shape for the codes a test
 * cannot cause (a full disk, a read-only file system).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDir, writeFileAtomic } from '../../src/core/datadir.js';
import { NetkitError } from '../../src/core/errors.js';
import {
  fileError,
  fileErrorLine,
  fileErrorReason,
  isFileSystemError,
  rewordQuotedCause,
} from '../../src/core/fs-errors.js';
import { tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-fs-errors-'));
  await writeFile(path.join(dir, 'photo.jpg'), 'not a folder');
  await mkdir(path.join(dir, 'folder'));
});
afterAll(() => cleanup());

/** What `fn` rejects with. */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

const sys = (code: string, syscall: string, p: string) =>
  Object.assign(new Error(`${code}: node's words, ${syscall} '${p}'`), { code, syscall, path: p });

describe('fileErrorLine', () => {
  it('names the component in the way, not only the path that failed', async () => {
    const err = await failure(() => ensureDir(path.join(dir, 'photo.jpg', 'x', 'chat')));
    expect(fileErrorLine(err)).toBe(
      `cannot create directory ${path.join(dir, 'photo.jpg', 'x', 'chat')}: ${path.join(dir, 'photo.jpg')} is not a directory`,
    );
  });

  it('a missing folder is named; a missing file in a folder that is there is just missing', async () => {
    const inMissing = await failure(() => readFile(path.join(dir, 'nope', 'q.txt')));
    expect(fileErrorLine(inMissing)).toBe(
      `cannot open ${path.join(dir, 'nope', 'q.txt')}: no such directory: ${path.join(dir, 'nope')}`,
    );
    const missing = await failure(() => readFile(path.join(dir, 'q.txt')));
    expect(fileErrorLine(missing)).toBe(`cannot open ${path.join(dir, 'q.txt')}: no such file or directory`);
    const list = await failure(() => readdir(path.join(dir, 'gone')));
    expect(fileErrorLine(list)).toBe(`cannot list ${path.join(dir, 'gone')}: no such directory`);
  });

  it('a file where a directory should be, a directory where a file should be', async () => {
    const exists = await failure(() => ensureDir(path.join(dir, 'photo.jpg')));
    expect(fileErrorLine(exists)).toBe(
      `cannot create directory ${path.join(dir, 'photo.jpg')}: it exists and is not a directory`,
    );
    const isDir = await failure(() => readFile(path.join(dir, 'folder')));
    expect(fileErrorReason(isDir)).toBe('is a directory');
  });

  it.each([
    ['EACCES', 'mkdir', 'cannot create directory /x/y: permission denied'],
    ['EPERM', 'unlink', 'cannot remove /x/y: operation not permitted'],
    ['EROFS', 'open', 'cannot open /x/y: read-only file system'],
    ['ENOSPC', 'write', 'cannot write /x/y: no space left on device'],
    ['EEXIST', 'open', 'cannot open /x/y: it already exists'],
  ])('%s from %s', (code, syscall, line) => {
    expect(fileErrorLine(sys(code, syscall, '/x/y'))).toBe(line);
  });

  it('a path rewritten for display, and the failing path named apart (the CLI adds the option)', async () => {
    const err = await failure(() => ensureDir(path.join(dir, 'photo.jpg', 'x', 'tls')));
    const shown = (p: string) => path.relative(dir, p);
    expect(fileErrorLine(err, shown, (p) => `${shown(p)} (--data here)`)).toBe(
      'cannot create directory photo.jpg/x/tls (--data here): photo.jpg is not a directory',
    );
  });

  it('is no answer for what is not a file-system error; a control character cannot reach the terminal', () => {
    expect(fileErrorLine(new Error('plain'))).toBeUndefined();
    expect(fileErrorLine(Object.assign(new Error('x'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBe(
      undefined,
    );
    expect(isFileSystemError(sys('ENOENT', 'open', 'a'))).toBe(true);
    // a program that is not there to run has a path and ENOENT too, but is no file-system failure
    expect(isFileSystemError(sys('ENOENT', 'spawn nc', 'nc'))).toBe(false);
    expect(fileErrorLine(sys('EACCES', 'open', 'a\u001b[2Jb'))).toBe(
      'cannot open a\\x1b[2Jb: permission denied',
    );
  });
});

describe('rewordQuotedCause', () => {
  it("replaces Node's words a wrapper quoted with the reason", async () => {
    const cause = await failure(() => readFile(path.join(dir, 'nope', 'q.txt')));
    const wrapped = new NetkitError('NETKIT_IO', `cannot read q.txt: ${(cause as Error).message}`, { cause });
    expect(rewordQuotedCause(wrapped)).toBe(
      `cannot read q.txt: no such directory: ${path.join(dir, 'nope')}`,
    );
    // nothing quoted, nothing changed
    expect(rewordQuotedCause(new NetkitError('NETKIT_IO', 'cannot read q.txt', { cause }))).toBeUndefined();
    expect(rewordQuotedCause(new Error('plain'))).toBeUndefined();
  });
});

describe('fileError', () => {
  it('says what was being done, keeps the cause, and tells a missing file from other failures', async () => {
    const cause = await failure(() => readFile(path.join(dir, 'q.txt')));
    const err = fileError(cause, 'cannot read --quotes q.txt');
    expect(err).toMatchObject({
      code: 'NETKIT_NOT_FOUND',
      message: 'cannot read --quotes q.txt: no such file or directory',
      cause,
    });
    expect(fileError(sys('EACCES', 'open', 'q'), 'cannot read q').code).toBe('NETKIT_IO');
  });
});

describe('writeFileAtomic', () => {
  it('fails naming the file it was asked to write, never its temporary file', async () => {
    const jar = path.join(dir, 'missing', 'jar');
    const err = (await failure(() => writeFileAtomic(jar, 'x'))) as NodeJS.ErrnoException;
    expect(err.path).toBe(jar);
    expect(err.message).not.toMatch(/\.tmp/);
    expect(fileErrorLine(err)).toBe(`cannot open ${jar}: no such directory: ${path.join(dir, 'missing')}`);
    // the rename over a directory: about that directory alone
    const over = (await failure(() =>
      writeFileAtomic(path.join(dir, 'folder'), 'x'),
    )) as NodeJS.ErrnoException;
    expect(over.message).not.toMatch(/\.tmp/);
    expect(fileErrorLine(over)).toBe(`cannot replace ${path.join(dir, 'folder')}: is a directory`);
  });
});
