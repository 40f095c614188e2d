/**
 * fetchMessages() safety rules with a scripted server: a message whose RETR size differs from its LIST
 * size is saved but never deleted; a server dying mid-fetch leaves the state file with exactly the
 * messages saved so far and nothing marked for deletion that was not saved.
 */
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pop3Client } from '../../src/mail/pop3-client.js';
import { FETCH_STATE_FILE, fetchMessages, sizeMatchesListing } from '../../src/mail/pop3-client-fetch.js';
import { tempDir } from '../helpers/net.js';

const MSGS = [
  'From: a@lab\r\nSubject: one\r\n\r\nfirst\r\n',
  'From: b@lab\r\nSubject: two\r\n\r\nsecond\r\n',
  'From: c@lab\r\nSubject: three\r\n\r\nthird\r\n',
];

interface Fake {
  port: number;
  commands: string[];
  server: net.Server;
}

/** A tiny POP3 server: `lie` makes LIST report a wrong size for message 2; `dieAt` closes on that RETR. */
async function fakePop3(opts: { lie?: boolean; dieAt?: number } = {}): Promise<Fake> {
  const commands: string[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.write('+OK fake ready\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let i = buf.indexOf('\r\n');
      while (i !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(line);
        const [verb, arg] = line.split(' ');
        const size = (n: number) => MSGS[n - 1]!.length + (opts.lie && n === 2 ? 5 : 0);
        switch (verb) {
          case 'CAPA':
            s.write('+OK\r\nUSER\r\nUIDL\r\n.\r\n');
            break;
          case 'LIST':
            s.write(`+OK\r\n${MSGS.map((_, k) => `${k + 1} ${size(k + 1)}`).join('\r\n')}\r\n.\r\n`);
            break;
          case 'UIDL':
            s.write(`+OK\r\n${MSGS.map((_, k) => `${k + 1} uid-${k + 1}`).join('\r\n')}\r\n.\r\n`);
            break;
          case 'RETR':
            if (Number(arg) === opts.dieAt) {
              s.destroy();
              return;
            }
            s.write(`+OK\r\n${MSGS[Number(arg) - 1]}.\r\n`);
            break;
          case 'QUIT':
            s.end('+OK bye\r\n');
            break;
          default:
            s.write('+OK\r\n');
        }
        i = buf.indexOf('\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, commands, server };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(opts: { lie?: boolean; dieAt?: number }) {
  const fake = await fakePop3(opts);
  const tmp = await tempDir();
  cleanups.push(async () => {
    fake.server.close();
    await tmp.cleanup();
  });
  const client = await Pop3Client.connect({ port: fake.port });
  await client.login('bob', 'pw');
  return { fake, tmp, client };
}

describe('sizeMatchesListing', () => {
  const b = (s: string) => Buffer.from(s, 'latin1');
  it.each([
    ['equal', 10, 'Subject: x\r\n'.slice(0, 10), true],
    // Dovecot: a last line without a line end is sent with a CRLF that LIST does not count
    ['no final line end, CRLF added', 16, 'Subject: x\r\n\r\nab\r\n', true],
    ['listed message already ended in CRLF', 14, 'Subject: x\r\n\r\n\r\n', false],
    ['two extra bytes that are not CRLF', 14, 'Subject: x\r\n\r\nab', false],
    // Dovecot: a leading dot is not stuffed, so the client unstuffs it away
    ['one byte short (unstuffed leading dot)', 21, 'Subject: x\r\n\r\nbody\r\n', false],
    ['one byte long', 13, 'Subject: x\r\n\r\n', false],
    ['four extra bytes', 12, 'Subject: x\r\n\r\n\r\n', false],
  ])('%s', (_name, listed, data, expected) => {
    expect(sizeMatchesListing(listed, b(data))).toBe(expected);
  });
});

describe('fetchMessages', () => {
  it('does not delete a message whose size does not match LIST', async () => {
    const { fake, tmp, client } = await setup({ lie: true });
    const r = await fetchMessages(client, { out: tmp.dir, delete: true });
    await client.quit();
    expect(r.messages.map((m) => [m.n, m.verified, m.deleted])).toEqual([
      [1, true, true],
      [2, false, false],
      [3, true, true],
    ]);
    expect(r.messages[1]!.warning).toMatch(/size mismatch: server listed 42 octets, received 37/);
    expect(fake.commands.filter((c) => c.startsWith('DELE'))).toEqual(['DELE 1', 'DELE 3']);
    const files = (await readdir(tmp.dir)).filter((f) => f.endsWith('.eml')).sort();
    expect(files).toEqual(['uid-1.eml', 'uid-2.eml', 'uid-3.eml']);
    expect(await readFile(path.join(tmp.dir, 'uid-2.eml'), 'utf8')).toBe(MSGS[1]);
  });

  it('a server dying mid-fetch: clear error, saved messages remembered, nothing else deleted', async () => {
    const { fake, tmp, client } = await setup({ dieAt: 3 });
    const err = await fetchMessages(client, { out: tmp.dir, delete: true, account: 'bob@fake' }).catch(
      (e) => e,
    );
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.message).toMatch(/connection closed .* before replying to RETR 3/);
    const state = JSON.parse(await readFile(path.join(tmp.dir, FETCH_STATE_FILE), 'utf8'));
    expect(state.accounts['bob@fake'].uids).toEqual(['uid-1', 'uid-2']);
    expect(fake.commands).not.toContain('DELE 3');
    expect(fake.commands).not.toContain('QUIT');
  });

  it('--new-only skips what the state file remembers, and never re-saves it', async () => {
    const { tmp, client } = await setup({});
    const first = await fetchMessages(client, { out: tmp.dir, newOnly: true, account: 'a' });
    expect(first.messages).toHaveLength(3);
    const second = await fetchMessages(client, { out: tmp.dir, newOnly: true, account: 'a' });
    expect(second).toMatchObject({ total: 3, skipped: 3, messages: [] });
    // another account in the same directory has its own memory
    const other = await fetchMessages(client, { out: tmp.dir, newOnly: true, account: 'b' });
    expect(other.messages).toHaveLength(3);
    // the same bytes under the same UIDL are the file already there, not a second copy
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.eml')).sort()).toEqual([
      'uid-1.eml',
      'uid-2.eml',
      'uid-3.eml',
    ]);
    await client.quit();
  });

  it('a re-fetch after a crash before the state was written reuses the saved file, no duplicate', async () => {
    const { tmp, client } = await setup({});
    await fetchMessages(client, { out: tmp.dir, newOnly: true, account: 'a' });
    // the crash: the message was saved but its UIDL never reached the state file
    await writeFile(path.join(tmp.dir, FETCH_STATE_FILE), '{"version":1,"accounts":{}}\n');
    // and a different message that happens to want the same name must still get its own file
    await writeFile(path.join(tmp.dir, 'uid-3.eml'), 'not the same message');
    const again = await fetchMessages(client, { out: tmp.dir, newOnly: true, account: 'a', delete: true });
    await client.quit();
    expect(again.messages.map((m) => [path.basename(m.file), m.verified, m.deleted])).toEqual([
      ['uid-1.eml', true, true],
      ['uid-2.eml', true, true],
      ['uid-3-2.eml', true, true],
    ]);
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.eml')).sort()).toEqual([
      'uid-1.eml',
      'uid-2.eml',
      'uid-3-2.eml',
      'uid-3.eml',
    ]);
    expect(await readFile(path.join(tmp.dir, 'uid-3-2.eml'), 'utf8')).toBe(MSGS[2]);
  });

  it('--new-only --delete deletes what an interrupted run saved but never deleted, only against an unchanged copy', async () => {
    const { fake, tmp, client } = await setup({});
    const first = await fetchMessages(client, { out: tmp.dir, newOnly: true, delete: true, account: 'a' });
    expect(first.messages.map((m) => m.deleted)).toEqual([true, true, true]);
    client.close(); // the run dies before QUIT: the server deletes nothing
    expect(fake.commands).not.toContain('QUIT');

    // the local copies since then: uid-1 as saved, uid-2 removed, uid-3 changed
    await rm(path.join(tmp.dir, 'uid-2.eml'));
    await writeFile(path.join(tmp.dir, 'uid-3.eml'), 'edited');
    const from = fake.commands.length;
    const again = await Pop3Client.connect({ port: fake.port });
    await again.login('bob', 'pw');
    const second = await fetchMessages(again, { out: tmp.dir, newOnly: true, delete: true, account: 'a' });
    await again.quit();
    expect(second).toMatchObject({ total: 3, skipped: 3, messages: [] });
    expect(second.earlier).toEqual([
      { n: 1, uid: 'uid-1', file: path.join(tmp.dir, 'uid-1.eml'), deleted: true },
      {
        n: 2,
        uid: 'uid-2',
        file: path.join(tmp.dir, 'uid-2.eml'),
        deleted: false,
        warning: `its saved copy ${path.join(tmp.dir, 'uid-2.eml')} is gone`,
      },
      {
        n: 3,
        uid: 'uid-3',
        file: path.join(tmp.dir, 'uid-3.eml'),
        deleted: false,
        warning: `its saved copy ${path.join(tmp.dir, 'uid-3.eml')} is 6 octets, not the ${MSGS[2]!.length} saved`,
      },
    ]);
    expect(fake.commands.slice(from).filter((c) => c.startsWith('DELE'))).toEqual(['DELE 1']);
    // without --delete a remembered message is only skipped
    const third = await Pop3Client.connect({ port: fake.port });
    await third.login('bob', 'pw');
    const plain = await fetchMessages(third, { out: tmp.dir, newOnly: true, account: 'a' });
    await third.quit();
    expect(plain.earlier).toEqual([]);
    expect(fake.commands.filter((c) => c.startsWith('DELE'))).toHaveLength(4);
  });

  it('finds an earlier Maildir copy after a mail reader moved it to cur/; an old state without copies deletes nothing', async () => {
    const { fake, tmp, client } = await setup({});
    const first = await fetchMessages(client, {
      out: tmp.dir,
      format: 'maildir',
      newOnly: true,
      delete: true,
      account: 'a',
    });
    client.close();
    // a mail reader marks message 1 seen: new/ID → cur/ID:2,S
    const id = path.basename(first.messages[0]!.file);
    await rename(first.messages[0]!.file, path.join(tmp.dir, 'cur', `${id}:2,S`));
    // account 'b' remembers the UIDs the way older versions did: no record of a verified copy
    const stateFile = path.join(tmp.dir, FETCH_STATE_FILE);
    const state = JSON.parse(await readFile(stateFile, 'utf8'));
    state.accounts.b = { uids: ['uid-1', 'uid-2', 'uid-3'] };
    await writeFile(stateFile, JSON.stringify(state));

    const from = fake.commands.length;
    const again = await Pop3Client.connect({ port: fake.port });
    await again.login('bob', 'pw');
    const opts = { out: tmp.dir, format: 'maildir', newOnly: true, delete: true } as const;
    const a = await fetchMessages(again, { ...opts, account: 'a' });
    const b = await fetchMessages(again, { ...opts, account: 'b' });
    await again.quit();
    expect(a.earlier.map((m) => [m.n, m.deleted])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect(a.earlier[0]!.file).toBe(path.join(tmp.dir, 'cur', `${id}:2,S`));
    expect(b.earlier.map((m) => [m.n, m.deleted, m.warning])).toEqual([
      [1, false, 'no verified copy is recorded for it'],
      [2, false, 'no verified copy is recorded for it'],
      [3, false, 'no verified copy is recorded for it'],
    ]);
    expect(fake.commands.slice(from).filter((c) => c.startsWith('DELE'))).toEqual([
      'DELE 1',
      'DELE 2',
      'DELE 3',
    ]);
  });

  it('a Maildir fetched again without --new-only keeps the saved copies (moved to cur/ too), no duplicates', async () => {
    const { tmp, client } = await setup({});
    const opts = { out: tmp.dir, format: 'maildir', account: 'a' } as const;
    const first = await fetchMessages(client, opts);
    // a mail reader marks message 1 seen: new/ID → cur/ID:2,S; message 3's copy is changed
    const id = path.basename(first.messages[0]!.file);
    const seen = path.join(tmp.dir, 'cur', `${id}:2,S`);
    await rename(first.messages[0]!.file, seen);
    await writeFile(first.messages[2]!.file, 'edited');
    const again = await fetchMessages(client, opts);
    await client.quit();
    expect(again.messages.map((m) => m.file)).toEqual([seen, first.messages[1]!.file, expect.any(String)]);
    expect(again.messages[2]!.file).not.toBe(first.messages[2]!.file);
    expect(
      (await readdir(path.join(tmp.dir, 'new'))).length + (await readdir(path.join(tmp.dir, 'cur'))).length,
    ).toBe(4);
    expect(await readFile(again.messages[2]!.file, 'utf8')).toBe(MSGS[2]);
    // the state records where each copy is, so a later --new-only --delete finds them
    const state = JSON.parse(await readFile(path.join(tmp.dir, FETCH_STATE_FILE), 'utf8'));
    expect(state.accounts.a.saved['uid-1'].file).toBe(path.join('new', id));
  });

  it('with --delete a Maildir fetched again keeps each new copy: the earlier one may vanish meanwhile', async () => {
    const { tmp, client } = await setup({});
    const opts = { out: tmp.dir, format: 'maildir', account: 'a' } as const;
    const first = await fetchMessages(client, opts);
    const again = await fetchMessages(client, { ...opts, delete: true });
    await client.quit();
    expect(again.messages.map((m) => m.file)).not.toContain(first.messages[0]!.file);
    expect((await readdir(path.join(tmp.dir, 'new'))).length).toBe(2 * MSGS.length);
  });
});
