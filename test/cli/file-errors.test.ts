/**
 * A bad path is one line in words that names it (and the option it came from), never Node's
 * `ENOTDIR: not a directory, mkdir '…'`, never a temporary file's name, never a stack trace. Files
 * that cannot be read are failures (exit 1), except a `--config` file, which the lab takes as part
 * of what the user typed (exit 2).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliErrorMessage } from '../../src/cli/util.js';
import { LAB_ANY_PORT_FLAGS } from '../helpers/lab.js';
import { netkit, tempDir } from '../helpers/net.js';
import { freePort } from '../sockets/peers.js';

let dir: string;
let cleanup: () => Promise<void>;
/** a regular file, named where a folder is wanted */
let photo: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-file-errors-'));
  photo = path.join(dir, 'photo.jpg');
  await writeFile(photo, 'not a folder');
});
afterAll(() => cleanup());

/** One line on stderr, without Node's code-first words or a stack. */
function oneLine(stderr: string): string {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\bE[A-Z]{3,}\b|\.tmp\b|^\s+at /m);
  return stderr.trimEnd();
}

describe('a data directory under a file names the component in the way and the option', () => {
  const data = () => path.join(photo, 'x');
  const servers: Array<[string, () => string[], string]> = [
    ['chat serve', () => ['chat', 'serve', '--port', '0', '--data', data()], 'chat'],
    ['tcp listen --tls', () => ['tcp', 'listen', '0', '--tls', '--data', data()], 'tls'],
    ['pop3 serve', () => ['pop3', 'serve', '--port', '0', '--data', data()], 'tls'],
    ['ftp serve --data', () => ['ftp', 'serve', '--port', '0', '--data', data()], 'ftp/home'],
  ];
  for (const [name, args, sub] of servers) {
    it(name, async () => {
      const r = await netkit(args());
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toBe(
        `netkit: cannot create directory ${path.join(data(), sub)} (--data ${data()}): ${photo} is not a directory`,
      );
    });
  }

  it('ftp serve --root, and the lab, whose --data is the directory it creates', async () => {
    const root = await netkit(['ftp', 'serve', '--port', '0', '--data', dir, '--root', data()]);
    expect([root.code, oneLine(root.stderr)]).toEqual([
      1,
      `netkit: cannot create directory ${path.join(data(), 'home')} (--root ${data()}): ${photo} is not a directory`,
    ]);
    const lab = await netkit(['lab', '--data', data(), ...LAB_ANY_PORT_FLAGS]);
    expect([lab.code, oneLine(lab.stderr)]).toEqual([
      1,
      `netkit: cannot create directory --data ${data()}: ${photo} is not a directory`,
    ]);
  });

  it('a relative path reads as it was typed', async () => {
    const r = await netkit(['chat', 'serve', '--port', '0', '--data', './photo.jpg/x'], { cwd: dir });
    expect([r.code, oneLine(r.stderr)]).toEqual([
      1,
      'netkit: cannot create directory photo.jpg/x/chat (--data ./photo.jpg/x): photo.jpg is not a directory',
    ]);
  });
});

describe('a file to read that is not there', () => {
  it('serve qotd --quotes', async () => {
    const r = await netkit(['serve', 'qotd', '--port', '0', '--quotes', 'nonexist.txt'], { cwd: dir });
    expect([r.code, oneLine(r.stderr)]).toEqual([
      1,
      'netkit: cannot read --quotes nonexist.txt: no such file or directory',
    ]);
  });

  it('lab --config (exit 2, as every other problem with the config file)', async () => {
    const r = await netkit(['lab', '--config', 'nonexist.json'], { cwd: dir });
    expect([r.code, oneLine(r.stderr)]).toEqual([
      2,
      'netkit: cannot read --config nonexist.json: no such file or directory',
    ]);
  });

  it('http --data-file: the words of the error the request quoted', async () => {
    const missing = path.join(dir, 'nonexist');
    const r = await netkit(['http', 'post', '--data-file', missing, `http://127.0.0.1:${await freePort()}/`]);
    expect([r.code, oneLine(r.stderr)]).toEqual([
      1,
      `netkit: cannot read ${missing}: no such file or directory`,
    ]);
  });
});

describe('a file to write in a folder that is not there', () => {
  it('http -c: the cookie file is named, not the temporary file it is written through', async () => {
    const jar = path.join(dir, 'no-such-dir', 'jar');
    const r = await netkit(['http', 'get', '-c', jar, `http://127.0.0.1:${await freePort()}/`]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `netkit: cannot write cookie file ${jar}: no such directory: ${path.join(dir, 'no-such-dir')}`,
    );
  });
});

describe('cliErrorMessage', () => {
  const enoent = (p: string) =>
    Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), {
      code: 'ENOENT',
      syscall: 'open',
      path: p,
    });

  it('names the most specific option the path lies in, never one that would claim any path', () => {
    const file = path.join(dir, 'lab', 'q.txt');
    expect(
      cliErrorMessage(enoent(file), [
        { flag: '--root', value: '/' },
        { flag: '--data', value: dir },
      ]),
    ).toBe(`cannot open ${file} (--data ${dir}): no such directory: ${path.join(dir, 'lab')}`);
    // `/` and the folders above the current one hold every path: naming them would mislead
    expect(cliErrorMessage(enoent(file), [{ flag: '--root', value: '/' }])).toBe(
      `cannot open ${file}: no such directory: ${path.join(dir, 'lab')}`,
    );
    expect(cliErrorMessage(enoent(file), [{ flag: '--subject', value: 'hello' }])).toBe(
      `cannot open ${file}: no such directory: ${path.join(dir, 'lab')}`,
    );
  });

  it('leaves every other error to errorMessage', () => {
    expect(cliErrorMessage(new Error('plain\nsecond line'))).toBe('plain');
  });
});
