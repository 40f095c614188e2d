import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePortList } from '../../src/sockets/scan.js';
import {
  builtinServices,
  loadServices,
  lookupPort,
  parsePortQuery,
  parseServices,
  portRange,
  ServiceDb,
} from '../../src/sockets/services.js';
import { netkit, tempDir } from '../helpers/net.js';

describe('parseServices', () => {
  it.each([
    [
      'http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP',
      [{ name: 'http', port: 80, protocol: 'tcp', aliases: ['www'] }],
    ],
    ['discard 9/udp sink null', [{ name: 'discard', port: 9, protocol: 'udp', aliases: ['sink', 'null'] }]],
    ['ssh 22/TCP', [{ name: 'ssh', port: 22, protocol: 'tcp', aliases: [] }]],
    ['# only a comment', []],
    ['', []],
    ['   ', []],
    ['lonely', []],
    ['bad 80', []],
    ['bad 80/', []],
    ['bad x/tcp', []],
    ['big 70000/tcp', []],
    ['a 1/tcp#comment-glued', [{ name: 'a', port: 1, protocol: 'tcp', aliases: [] }]],
  ])('%j', (line, expected) => {
    expect(parseServices(line)).toEqual(expected);
  });

  it('keeps file order across lines and CRLF', () => {
    const db = parseServices('x 1/tcp\r\ny 2/udp\r\n');
    expect(db.map((e) => e.name)).toEqual(['x', 'y']);
  });
});

describe('ServiceDb lookups (first entry wins, aliases count)', () => {
  const db = new ServiceDb(
    parseServices('exec 512/tcp\nbiff 512/udp comsat\nhttp 80/tcp www\nhttp 80/udp\nalt 80/tcp\n'),
    'test',
  );
  it('by name', () => {
    expect(db.portOf('www')).toBe(80);
    expect(db.portOf('comsat', 'udp')).toBe(512);
    expect(db.portOf('comsat', 'tcp')).toBeUndefined();
    expect(db.portOf('HTTP')).toBe(80);
  });
  it('by port', () => {
    expect(db.nameOf(512)).toBe('exec');
    expect(db.nameOf(512, 'udp')).toBe('biff');
    expect(db.nameOf(80, 'tcp')).toBe('http');
    expect(db.nameOf(81)).toBeUndefined();
  });
  it('lookupPort answers both ways with the range', () => {
    const byName = lookupPort(db, 'http');
    expect(byName).toMatchObject({ port: 80, name: 'http', aliases: ['www'], protocol: null });
    expect(byName.entries.map((e) => e.protocol)).toEqual(['tcp', 'udp']);
    expect(lookupPort(db, '512/udp')).toMatchObject({ name: 'biff', aliases: ['comsat'], protocol: 'udp' });
    const unknown = lookupPort(db, '50000');
    expect(unknown).toMatchObject({ name: null, entries: [] });
    expect(unknown.range.name).toBe('dynamic');
    expect(() => lookupPort(db, 'nosuch')).toThrow(expect.objectContaining({ code: 'NETKIT_NOT_FOUND' }));
  });
});

describe('parsePortQuery', () => {
  it.each([
    ['http', { name: 'http' }],
    ['80', { port: 80 }],
    ['53/udp', { port: 53, protocol: 'udp' }],
    ['smtp/TCP', { name: 'smtp', protocol: 'tcp' }],
    ['0', { port: 0 }],
    ['65535', { port: 65535 }],
  ])('%s', (q, expected) => {
    expect(parsePortQuery(q)).toEqual(expected);
  });
  it.each(['65536', '80/sctp', 'http/', '/tcp', 'a b', '-1', '$x', ''])('%j is invalid', (q) => {
    expect(() => parsePortQuery(q)).toThrow(expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }));
  });
});

describe('portRange', () => {
  it.each([
    [0, 'well-known'],
    [1023, 'well-known'],
    [1024, 'registered'],
    [49151, 'registered'],
    [49152, 'dynamic'],
    [65535, 'dynamic'],
  ])('%i is %s', (port, name) => {
    expect(portRange(port).name).toBe(name);
  });
  it.each([-1, 65536, 1.5])('%d is not a port', (p) => {
    expect(() => portRange(p)).toThrow(expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }));
  });
});

describe('parsePortList', () => {
  it.each([
    ['80', [80]],
    ['20-25,80,443', [20, 21, 22, 23, 24, 25, 80, 443]],
    ['443,80,80,79-81', [79, 80, 81, 443]],
    [' 22 , 23 ', [22, 23]],
    ['0-2', [0, 1, 2]],
    ['65535', [65535]],
  ])('%s', (text, ports) => {
    expect(parsePortList(text)).toEqual(ports);
  });
  it('covers the whole port space', () => {
    expect(parsePortList('0-65535')).toHaveLength(65536);
  });
  it.each(['', '80,', '25-20', '70000', '1-70000', 'http', '1--2', '-5', '1,,2'])('%j is invalid', (t) => {
    expect(() => parsePortList(t)).toThrow(expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }));
  });
});

describe('fallback table', () => {
  it('stands in for a file that cannot be read only when asked to (the default for /etc/services)', async () => {
    const db = await loadServices('/nonexistent/services', { fallback: true });
    expect(db.source).toBe('built-in');
    expect(db.portOf('smtp')).toBe(25);
    expect(db.nameOf(7, 'udp')).toBe('echo');
    expect(builtinServices().entries.length).toBeGreaterThan(80);
  });

  it('a file the caller names must be read', async () => {
    await expect(loadServices('/nonexistent/services')).rejects.toMatchObject({
      code: 'NETKIT_NOT_FOUND',
      message: 'cannot read services file /nonexistent/services: no such directory: /nonexistent',
    });
  });

  it('the CLI says where its answer came from', async () => {
    const t = await tempDir();
    try {
      const file = path.join(t.dir, 'services');
      await writeFile(file, 'pop3\t\t110/tcp\t\tpop-3\n');
      const r = await netkit(['port', 'pop3', '--json', '--services', file]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ port: 110, name: 'pop3', source: file });
    } finally {
      await t.cleanup();
    }
  });

  it('the CLI refuses a --services file it cannot read (exit 1), rather than answer from another table', async () => {
    const t = await tempDir();
    try {
      const missing = path.join(t.dir, 'missing');
      const r = await netkit(['port', 'ssh', '--services', missing]);
      expect([r.code, r.stdout, r.stderr]).toEqual([
        1,
        '',
        `netkit: cannot read --services ${missing}: no such file or directory\n`,
      ]);
    } finally {
      await t.cleanup();
    }
  });

  it('the CLI reports unknown names (exit 1) and bad queries (exit 2)', async () => {
    const unknown = await netkit(['port', 'no-such-service']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^netkit: no service named "no-such-service"/);
    const bad = await netkit(['port', '99999']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a port number/);
  });
});
