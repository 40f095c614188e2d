/**
 * The pieces around smtp-server's own parsing and logging, without sockets: quoted local parts and
 * raw paths (smtp-address.ts), command arguments (smtp-commands.ts), the trace bridge after a
 * disconnect (smtp-trace.ts) and retention under a POP3 lock (smtp-delivery.ts).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import type { Maildir } from '../../src/mail/maildir.js';
import { sortByDelivery } from '../../src/mail/maildir-order.js';
import { lockMailbox } from '../../src/mail/pop3-lock.js';
import {
  isAscii,
  pathOfCommand,
  protectQuotedSpaces,
  splitAddress,
  unquoteLocalPart,
} from '../../src/mail/smtp-address.js';
import { commandArguments } from '../../src/mail/smtp-commands.js';
import { MailStore } from '../../src/mail/smtp-delivery.js';
import { SmtpTraceBridge } from '../../src/mail/smtp-trace.js';
import { tempDir } from '../helpers/net.js';

describe('quoted local parts and raw paths', () => {
  it.each([
    ['MAIL FROM:<"a b"@x>', 'MAIL FROM:<"a\uE000b"@x>', '"a b"@x'],
    [
      'RCPT TO:<"John Smith"@x.test> NOTIFY=NEVER',
      'RCPT TO:<"John\uE000Smith"@x.test> NOTIFY=NEVER',
      '"John Smith"@x.test',
    ],
    ['RCPT TO:<"a\\" b"@x>', 'RCPT TO:<"a\\"\uE000b"@x>', '"a\\" b"@x'],
  ])('protectQuotedSpaces(%s)', (line, protectedLine, address) => {
    const p = protectQuotedSpaces(line);
    expect(p?.line).toBe(protectedLine);
    expect(p?.restore(pathOfCommand(protectedLine)!)).toBe(address);
  });

  it.each([
    ['MAIL FROM:<a@b>'],
    ['MAIL FROM:<"bob"@x>'], // nothing to protect
    ['MAIL FROM:<"a b>'], // no closing quote
    ['MAIL FROM:<a@b> X=<"a b"@x>'], // not in the path
    ['MAIL FROM:<"a b" @x>'], // no @ right after the quoted string
    ['MAIL FROM:<"a\uE000 b"@x>'], // the stand-in itself: left to the library
  ])('protectQuotedSpaces(%s) leaves the line alone', (line) => {
    expect(protectQuotedSpaces(line)).toBeUndefined();
  });

  it.each([
    ['"bob"', 'bob'],
    ['bob', 'bob'],
    ['"a b"', 'a b'],
    ['"a\\"b"', 'a"b'],
    ['"a\\\\b"', 'a\\b'],
    ['"a"b"', undefined],
    ['"a\\"', undefined],
  ])('unquoteLocalPart(%s) = %s', (local, expected) => {
    expect(unquoteLocalPart(local)).toBe(expected);
  });

  it('finds the path as sent and splits addresses', () => {
    expect(pathOfCommand('MAIL FROM:<jürgen@xn--bcher-kva.example> SMTPUTF8')).toBe(
      'jürgen@xn--bcher-kva.example',
    );
    expect(pathOfCommand('MAIL FROM:<>')).toBe('');
    expect(pathOfCommand('MAIL FROM:a@b')).toBeUndefined();
    expect(splitAddress('"a b"@x')).toEqual({ local: '"a b"', domain: 'x' });
    expect(splitAddress('postmaster')).toEqual({ local: 'postmaster', domain: undefined });
    expect(isAscii('bob@xn--bcher-kva.example')).toBe(true);
    expect(isAscii('bob@bücher.example')).toBe(false);
  });

  it.each([
    ['RSET', ''],
    ['RSET x', 'x'],
    ['DATA  now please ', 'now please'],
    [Buffer.from('EXPN staff'), 'staff'],
  ])('commandArguments(%s) = %j', (line, expected) => {
    expect(commandArguments(line)).toBe(expected);
  });
});

describe('SmtpTraceBridge', () => {
  it('ignores what smtp-server logs for a session after its disconnect: no new connection, no leak', () => {
    const target = new EventEmitter();
    const traces: TraceEvent[] = [];
    target.on('trace', (ev: TraceEvent) => traces.push(ev));
    const bridge = new SmtpTraceBridge(target);
    bridge.connect('s1', '127.0.0.1:1000');
    bridge.logger.debug({ tnx: 'command', cid: 's1' }, 'C:', 'DATA');
    bridge.disconnect('s1');
    // a client gone mid-DATA: the size line comes once the DATA reply is decided
    bridge.logger.debug({ tnx: 'data', cid: 's1', bytes: 200018 }, 'C: <%s bytes of DATA>', 200018);
    bridge.info('s1', 'accounts unavailable: late');
    expect(bridge.size).toBe(0);
    const conn = traces[0]!.conn;
    expect(traces.map((t) => [t.conn, t.kind])).toEqual([
      [conn, 'connect'],
      [conn, 'in'],
      [conn, 'disconnect'],
    ]);
  });

  it('still traces a client that talks before the greeting (logged before onConnect)', () => {
    const target = new EventEmitter();
    const traces: TraceEvent[] = [];
    target.on('trace', (ev: TraceEvent) => traces.push(ev));
    const bridge = new SmtpTraceBridge(target);
    bridge.logger.debug({ tnx: 'send', cid: 's2' }, 'S:', '421 lab You talk too soon');
    bridge.disconnect('s2');
    expect(traces.map((t) => t.kind)).toEqual(['out', 'disconnect']);
    expect(bridge.size).toBe(0);
  });
});

describe('MailStore retention and the POP3 lock', () => {
  it('never prunes a mailbox whose POP3 lock is held; the next delivery after release does', () =>
    withRetention(2, async ({ md, deliver }) => {
      await deliver(1);
      await deliver(2);
      const lock = await lockMailbox(md.dir);
      expect(lock).toBeDefined();
      await deliver(3);
      await deliver(4);
      expect(await subjects(md)).toEqual(['n1', 'n2', 'n3', 'n4']);
      await lock!.release();
      await deliver(5);
      expect(await subjects(md)).toEqual(['n4', 'n5']);
      // pruning released its own lock: a POP3 session can take it again
      const again = await lockMailbox(md.dir);
      expect(again).toBeDefined();
      await again!.release();
    }));
});

describe('MailStore retention at the cap', () => {
  it('lists a full mailbox once per delivery, not twice, and keeps exactly the newest', () =>
    withRetention(3, async ({ md, deliver }) => {
      for (let n = 1; n <= 3; n++) await deliver(n);
      const listed = vi.spyOn(md, 'list');
      for (let n = 4; n <= 8; n++) await deliver(n);
      expect(listed).toHaveBeenCalledTimes(5);
      listed.mockRestore();
      expect(await subjects(md)).toEqual(['n6', 'n7', 'n8']);
    }));

  it('messages deleted meanwhile (POP3) lower the count: nothing more is pruned than needed', () =>
    withRetention(3, async ({ md, deliver }) => {
      for (let n = 1; n <= 3; n++) await deliver(n);
      const [first, second] = await md.list();
      await md.remove(first!.id);
      await md.remove(second!.id);
      await deliver(4);
      await deliver(5);
      expect(await subjects(md)).toEqual(['n3', 'n4', 'n5']);
      await deliver(6);
      expect(await subjects(md)).toEqual(['n4', 'n5', 'n6']);
    }));

  it('a retention that fails leaves the delivery a success (the copy is durable); the next one retries', () =>
    withRetention(2, async ({ md, deliver }) => {
      await deliver(1);
      await deliver(2);
      const failing = vi
        .spyOn(md, 'list')
        .mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
      await expect(deliver(3)).resolves.toHaveLength(1);
      failing.mockRestore();
      await deliver(4);
      expect(await subjects(md)).toEqual(['n3', 'n4']);
    }));

  it('concurrent deliveries past the cap keep exactly the newest in delivery order', () =>
    withRetention(5, async ({ md, deliver }) => {
      const copies = await Promise.all(Array.from({ length: 20 }, (_, n) => deliver(n)));
      const delivered = sortByDelivery(copies.map(([c]) => ({ id: c!.id, mtimeMs: 0 })));
      expect((await md.list()).map((e) => e.id)).toEqual(delivered.slice(-5).map((e) => e.id));
    }));
});

/** A MailStore keeping `max` messages per mailbox in a temporary directory, and bob's Maildir in it. */
async function withRetention(
  max: number,
  body: (t: { md: Maildir; deliver: (n: number) => ReturnType<MailStore['deliver']> }) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = await tempDir('netkit-retain-');
  try {
    const store = new MailStore(dir, { maxMessages: max });
    const deliver = (n: number) => store.deliver(['bob'], one(`Subject: n${n}\r\n\r\n${n}\r\n`));
    await body({ md: store.maildir('bob'), deliver });
  } finally {
    await cleanup();
  }
}

async function* one(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

async function subjects(md: Maildir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await md.list()) out.push(/Subject: (\S+)/.exec((await md.read(e.id)).toString())![1]!);
  return out.sort();
}
