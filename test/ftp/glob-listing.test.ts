/**
 * Server-side wildcards in NLST and LIST (as vsftpd and pure-ftpd have them, for ftp(1)'s
 * `mget *.txt`), driven with Python's ftplib: matches in the last segment, names as the client
 * wrote the directory, dot files only for a dot pattern, an existing literal name first, no match
 * is 550, and the write-only drop box stays unlistable.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, PASSWORDS, startFixture } from './fixture.js';
import { python } from './ftplib.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await startFixture({ anonymousUpload: true });
  const home = path.join(fx.root, 'home/alice');
  await mkdir(path.join(home, 'docs'), { recursive: true });
  for (const name of ['a.txt', 'b.txt', 'c.log', '.hidden.txt', 'lit*eral', 'docs/x.txt', 'docs/y.md'])
    await writeFile(path.join(home, name), name);
});
afterAll(() => fx.cleanup());

describe('NLST and LIST with wildcards', () => {
  it('matches names like sh, with ftplib', async () => {
    const r = await python(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['star'] = f.nlst('*.txt')
R['dir'] = f.nlst('docs/*.txt')
R['set'] = sorted(f.nlst('[ab].*'))
R['dots'] = f.nlst('.*.txt')
R['literal'] = f.nlst('lit*eral')
lines = []
f.retrlines('LIST *.txt', lines.append)
R['list'] = [l.split()[-1] for l in lines]
lines = []
f.retrlines('LIST -l docs/*', lines.append)
R['list_dir'] = [l.split()[-1] for l in lines]
R['none'] = code(f.nlst, '*.none')
R['deep'] = code(f.nlst, '*/x.txt')
f.quit()
a = plain()
a.login('anonymous', 'guest@example.org')
try:
    a.nlst('incoming/*')
except ftplib.error_perm as e:
    R['dropbox'] = str(e)
a.quit()
`,
      fx.port,
    );
    expect(r).toEqual({
      star: ['a.txt', 'b.txt'],
      dir: ['docs/x.txt'],
      set: ['a.txt', 'b.txt'],
      dots: ['.hidden.txt'],
      literal: ['lit*eral'],
      list: ['a.txt', 'b.txt'],
      list_dir: ['x.txt', 'y.md'],
      none: '550',
      deep: '550',
      dropbox: expect.stringMatching(/^550 .*(not allowed|permission)/i),
    });
  });
});
