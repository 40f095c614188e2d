/**
 * Reply details measured against pyftpdlib and vsftpd: names with `%XX` are plain names, SIZE and
 * the 150 text in TYPE A, no resuming in TYPE A, REST kept until the next file transfer command, CDUP at the root,
 * `OPTS MLST` with no facts, full paths in the "already exists" refusal.
 */
import { readFile, writeFile } from 'node:fs/promises';
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
