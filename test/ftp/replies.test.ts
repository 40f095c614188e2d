/**
 * Reply details measured against pyftpdlib and vsftpd: names with `%XX` are plain names, SIZE and
 * the 150 text in TYPE A, no resuming in TYPE A, REST kept until the next file transfer command, CDUP at the root,
 * `OPTS MLST` with no facts, full paths in the "already exists" refusal, names that start or end
 * with a space in every listing command, NLST of one file and STOU's `FILE:` naming the path as
 * the client wrote it, names that are not UTF-8 listed (pyftpdlib lists them with `?`).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY, type Fixture, loginAlice, startFixture } from './fixture.js';
import { RawFtp } from './raw-client.js';

let fx: Fixture;
let home: string;

beforeAll(async () => {
  fx = await startFixture();
  home = path.join(fx.root, 'home/alice');
  await writeFile(path.join(home, 'r.bin'), '0123456789');
});
afterAll(() => fx.cleanup());

const alice = () => loginAlice(fx);

describe('names are never percent-decoded', () => {
  it('uploads, lists and downloads "sale 100%ff.txt"', async () => {
    const c = await alice();
    expect((await c.store('STOR sale 100%ff.txt', 'pct\n')).last.code).toBe(226);
    expect(await readFile(path.join(home, 'sale 100%ff.txt'), 'utf8')).toBe('pct\n');
    expect((await c.retrieve('NLST')).data.toString()).toMatch(/\r\nsale 100%ff\.txt\r\n/);
    const got = await c.retrieve('RETR /sale 100%ff.txt');
    expect([got.last.code, got.data.toString()]).toEqual([226, 'pct\n']);
    expect((await c.cmd('SIZE report%20v2.pdf')).code).toBe(550);
    c.close();
  });

  it('an escaped traversal is a literal name inside the root', async () => {
    const c = await alice();
    expect((await c.cmd('MKD ..%2f..%2fcanary.txt')).code).toBe(257);
    expect((await c.store('STOR %2e%2e', 'literal')).last.code).toBe(226);
    expect(await readFile(path.join(home, '%2e%2e'), 'utf8')).toBe('literal');
    expect((await c.retrieve('RETR %2e%2e/%2e%2e/canary.txt')).first.code).toBe(550);
    expect(await readFile(fx.canary, 'utf8')).toBe(CANARY);
    const outside = (await fx.snapshotOutside()).map((p) => path.relative(fx.base, p));
    expect(outside.filter((p) => !p.startsWith('data'))).toEqual(['canary.txt']);
    c.close();
  });
});

describe('TYPE A', () => {
  it('refuses SIZE as pyftpdlib does, and announces no byte count for RETR', async () => {
    const c = await alice();
    await c.cmd('TYPE A');
    expect((await c.cmd('SIZE r.bin')).lines).toEqual(['550 SIZE not allowed in ASCII mode']);
    const r = await c.retrieve('RETR r.bin');
    expect(r.first.text).toBe('Opening ASCII mode data connection for /r.bin');
    await c.cmd('TYPE I');
    expect((await c.cmd('SIZE r.bin')).text).toBe('10');
    expect((await c.retrieve('RETR r.bin')).first.text).toMatch(/BINARY .*\(10 bytes\)$/);
    c.close();
  });

  it('refuses to resume (REST counts wire bytes there): 554 for RETR and STOR, the file untouched', async () => {
    await writeFile(path.join(home, 'lines.txt'), 'a\nb\nc\n');
    const c = await alice();
    await c.cmd('TYPE A');
    expect((await c.cmd('REST 4')).code).toBe(350);
    const r = await c.retrieve('RETR lines.txt');
    expect([r.first.code, r.first.text]).toEqual([
      554,
      'Resuming is not supported in ASCII mode (REST 4): use TYPE I',
    ]);
    expect((await c.cmd('REST 4')).code).toBe(350);
    expect((await c.store('STOR lines.txt', 'x\r\n')).first.code).toBe(554);
    expect(await readFile(path.join(home, 'lines.txt'), 'utf8')).toBe('a\nb\nc\n');
    // REST 0 is no resume, and the REST was used up: both transfers run whole
    expect((await c.cmd('REST 0')).code).toBe(350);
    expect((await c.retrieve('RETR lines.txt')).data.toString()).toBe('a\r\nb\r\nc\r\n');
    c.close();
  });
});

describe('REST', () => {
  it('is kept across other commands, listings included, until the next RETR', async () => {
    const c = await alice();
    expect((await c.cmd('REST 2')).code).toBe(350);
    expect((await c.cmd('PWD')).code).toBe(257);
    expect((await c.retrieve('LIST')).last.code).toBe(226);
    expect((await c.retrieve('RETR r.bin')).data.toString()).toBe('23456789');
    expect((await c.retrieve('RETR r.bin')).data.toString()).toBe('0123456789');
    c.close();
  });

  it('is used up by a transfer command that fails, so the next one starts at 0', async () => {
    const c = await alice();
    expect((await c.cmd('REST 4')).code).toBe(350);
    expect((await c.cmd('RETR r.bin')).code).toBe(425);
    expect((await c.retrieve('RETR r.bin')).data.toString()).toBe('0123456789');
    expect((await c.cmd('REST 4')).code).toBe(350);
    expect((await c.retrieve('RETR missing.bin')).first.code).toBe(550);
    expect((await c.retrieve('RETR r.bin')).data.toString()).toBe('0123456789');
    c.close();
  });
});

describe('small replies', () => {
  it('CDUP at the root stays at / (250); CWD .. there is still refused', async () => {
    const c = await alice();
    expect((await c.cmd('MKD sub')).code).toBe(257);
    expect((await c.cmd('CWD sub')).code).toBe(250);
    expect((await c.cmd('CDUP')).text).toBe('Directory changed to /');
    expect((await c.cmd('CDUP')).lines).toEqual(['250 Directory changed to /']);
    expect((await c.cmd('XCUP')).code).toBe(250);
    expect((await c.cmd('PWD')).text).toBe('"/" is the current directory');
    expect((await c.cmd('CWD ..')).code).toBe(550);
    const a = await RawFtp.connect(fx.port);
    await a.login('anonymous', 'x@y');
    expect((await a.cmd('CWD /pub')).code).toBe(250);
    expect((await a.cmd('CDUP')).code).toBe(250);
    expect((await a.cmd('CDUP')).code).toBe(250);
    expect((await a.cmd('PWD')).text).toBe('"/" is the current directory');
    a.close();
    c.close();
  });

  it('OPTS MLST with no facts has no trailing space', async () => {
    const c = await alice();
    expect((await c.cmd('OPTS MLST')).lines).toEqual(['200 MLST OPTS']);
    expect((await c.cmd('OPTS MLST type;size;')).lines).toEqual(['200 MLST OPTS type;size;']);
    c.close();
  });

  it('the "already exists" refusal names the full path', async () => {
    const a = await RawFtp.connect(fx.port);
    await a.login('anonymous', 'x@y');
    await a.cmd('TYPE I');
    expect((await a.cmd('CWD /incoming')).code).toBe(250);
    expect((await a.store('STOR a.txt', 'a')).last.code).toBe(226);
    const again = await a.store('STOR a.txt', 'b');
    expect(again.first.lines).toEqual([
      '553 File name not allowed: /incoming/a.txt already exists and may not be overwritten',
    ]);
    a.close();
  });
});

describe('paths as the client wrote them', () => {
  it('lists names that start or end with a space, as RETR and CWD take them (LIST, NLST, MLST, MLSD, STAT)', async () => {
    await mkdir(path.join(home, ' lead dir'), { recursive: true });
    await writeFile(path.join(home, ' lead dir/in.txt'), 'in');
    await writeFile(path.join(home, 'trail.txt '), 'trail');
    const c = await alice();
    await c.cmd('TYPE I');
    expect((await c.retrieve('RETR trail.txt ')).data.toString()).toBe('trail');
    expect((await c.retrieve('LIST  lead dir')).data.toString()).toMatch(/ in\.txt\r\n$/);
    expect((await c.retrieve('NLST  lead dir')).data.toString()).toBe('in.txt\r\n');
    expect((await c.retrieve('MLSD  lead dir')).data.toString()).toMatch(
      /^type=file;size=2;.*; in\.txt\r\n$/,
    );
    expect((await c.retrieve('NLST trail.txt ')).data.toString()).toBe('trail.txt \r\n');
    expect((await c.retrieve('LIST -l trail.txt ')).data.toString()).toMatch(/ 5 .* trail\.txt \r\n$/);
    expect((await c.cmd('MLST trail.txt ')).lines).toEqual([
      '250-Listing /trail.txt ',
      expect.stringMatching(/^ type=file;size=5;.*; \/trail\.txt $/),
      '250 End',
    ]);
    const stat = await c.cmd('STAT  lead dir');
    expect([stat.code, stat.lines[0], stat.lines.length]).toEqual([213, '213-Status of / lead dir:', 3]);
    // a blank argument is still the working directory
    expect((await c.cmd('MLST  ')).lines[0]).toBe('250-Listing /');
    c.close();
  });

  it('NLST of one file answers the path as written (ftp(1) mget RETRs it); a directory lists bare names', async () => {
    await mkdir(path.join(home, 'docs'), { recursive: true });
    await writeFile(path.join(home, 'docs/a.txt'), 'a');
    const c = await alice();
    expect((await c.retrieve('NLST docs/a.txt')).data.toString()).toBe('docs/a.txt\r\n');
    expect((await c.retrieve('NLST /docs/a.txt')).data.toString()).toBe('/docs/a.txt\r\n');
    expect((await c.retrieve('NLST docs/a.tx?')).data.toString()).toBe('docs/a.txt\r\n');
    expect((await c.retrieve('NLST docs')).data.toString()).toBe('a.txt\r\n');
    expect((await c.retrieve('NLST r.bin')).data.toString()).toBe('r.bin\r\n');
    c.close();
  });

  it('STOU answers 150 FILE: with the directory as written, so the name works from the working directory', async () => {
    await mkdir(path.join(home, 'up'), { recursive: true });
    await writeFile(path.join(home, 'up/x'), 'taken');
    const c = await alice();
    await c.cmd('TYPE I');
    const sub = await c.store('STOU up/x', 'one');
    expect([sub.first.lines, sub.last.code]).toEqual([['150 FILE: up/x.1'], 226]);
    expect(await readFile(path.join(home, 'up/x.1'), 'utf8')).toBe('one');
    expect((await c.store('STOU /up/x', 'two')).first.text).toBe('FILE: /up/x.2');
    expect((await c.cmd('CWD up')).code).toBe(250);
    expect((await c.store('STOU x', 'three')).first.text).toBe('FILE: x.3');
    c.close();
  });
});

describe('names that are not UTF-8', () => {
  it('are listed with U+FFFD for the bad bytes, not left out; sent back, they are refused', async () => {
    const dir = path.join(home, 'latin1');
    await mkdir(dir);
    await writeFile(Buffer.from(`${dir}/caf\xe9.txt`, 'latin1'), 'latin-1 name');
    await writeFile(path.join(dir, 'ok.txt'), 'ok');
    const c = await alice();
    await c.cmd('TYPE I');
    expect((await c.retrieve('NLST latin1')).data.toString()).toBe('caf\ufffd.txt\r\nok.txt\r\n');
    const list = (await c.retrieve('LIST latin1')).data.toString().split('\r\n');
    expect(list[0]).toMatch(/^-rw-.* 12 .* caf\ufffd\.txt$/);
    const mlsd = (await c.retrieve('MLSD latin1')).data.toString().split('\r\n');
    expect(mlsd[0]).toMatch(/^type=file;size=12;.*; caf\ufffd\.txt$/);
    expect((await c.retrieve('RETR latin1/caf\ufffd.txt')).first.text).toMatch(/invalid UTF-8/);
    c.close();
  });
});
