/**
 * `services` in netkit.config.json: each lab service's limits and policies, validated when the file
 * is read and handed to the servers the lab starts.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromFile, resolveLabConfig } from '../../src/lab/config.js';
import { type LabHandle, startLab } from '../../src/lab/lab.js';
import { LAB_ANY_PORTS } from '../helpers/lab.js';
import { LineClient, tempDir } from '../helpers/net.js';

describe('lab services options: validation', () => {
  it('accepts the documented options and hands them on unchanged', () => {
    const cfg = resolveLabConfig(
      configFromFile({
        services: {
          smtp: { maxSize: 1_048_576, strict: true, bareLineEndings: 'normalise' },
          ftp: { maxClients: 5, downloadRate: 0 },
        },
      }),
    );
    expect(cfg.services).toEqual({
      smtp: { maxSize: 1_048_576, strict: true, bareLineEndings: 'normalise' },
      ftp: { maxClients: 5, downloadRate: 0 },
    });
  });

  it('refuses unknown services and options, and values of the wrong type, naming them', () => {
    expect(() => configFromFile({ services: [] })).toThrow('"services" must be an object');
    expect(() => configFromFile({ services: { imap: {} } })).toThrow(
      'unknown service "imap" in "services" (known: smtp, pop3, ftp, chat, http)',
    );
    expect(() => configFromFile({ services: { smtp: 5 } })).toThrow('services.smtp must be an object');
    expect(() => configFromFile({ services: { smtp: { maxsize: 1 } } })).toThrow(
      /services\.smtp has no option "maxsize" \(known: maxSize, /,
    );
    // what the lab decides itself cannot be overridden
    expect(() => configFromFile({ services: { smtp: { port: 25 } } })).toThrow(/has no option "port"/);
    expect(() => configFromFile({ services: { ftp: { root: '/' } } })).toThrow(/has no option "root"/);
    expect(() => configFromFile({ services: { smtp: { maxSize: 0 } } })).toThrow(
      'services.smtp.maxSize must be a whole number above 0, not 0',
    );
    expect(() => configFromFile({ services: { smtp: { maxSize: '10M' } } })).toThrow(
      'services.smtp.maxSize must be a whole number above 0, not "10M"',
    );
    expect(() => configFromFile({ services: { http: { rateLimit: -1 } } })).toThrow(
      'services.http.rateLimit must be a whole number (0 or more), not -1',
    );
    expect(() => configFromFile({ services: { pop3: { markSeen: 'no' } } })).toThrow(
      'services.pop3.markSeen must be true or false, not "no"',
    );
    expect(() => configFromFile({ services: { smtp: { bareLineEndings: 'fix' } } })).toThrow(
      'services.smtp.bareLineEndings must be "reject" or "normalise", not "fix"',
    );
  });
});

describe('lab services options: the servers get them', () => {
  let lab: LabHandle;
  let cleanup: () => Promise<void>;
  const port = (name: string): number => {
    const s = lab.services().find((x) => x.name === name && !x.tls && x.transport === 'tcp');
    if (!s) throw new Error(`no ${name} in ${JSON.stringify(lab.services().map((x) => x.name))}`);
    return s.port;
  };

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const file = configFromFile({
      services: {
        smtp: { maxSize: 4096, maxRecipients: 2 },
        pop3: { maxLineLength: 64 },
        ftp: { anonymous: false, maxLineLength: 100 },
        chat: { maxLineLength: 50 },
      },
    });
    lab = await startLab(resolveLabConfig(file, { dataDir: path.join(t.dir, 'data'), ports: LAB_ANY_PORTS }));
  });
  afterAll(async () => {
    await lab?.close();
    await cleanup?.();
  });

  it('smtp: SIZE and the recipient cap', async () => {
    const c = await LineClient.connect(port('smtp'));
    try {
      await c.until(/^220 /);
      c.send('EHLO client.test\r\n');
      const ehlo: string[] = [];
      do ehlo.push(await c.line());
      while (!ehlo.at(-1)!.startsWith('250 '));
      expect(ehlo).toContainEqual(expect.stringMatching(/^250[ -]SIZE 4096$/));
      c.send('MAIL FROM:<a@client.test>\r\n');
      expect(await c.line()).toMatch(/^250 /);
      for (const to of ['one', 'two']) {
        c.send(`RCPT TO:<${to}@lab.test>\r\n`);
        expect(await c.line()).toMatch(/^250 /);
      }
      c.send('RCPT TO:<three@lab.test>\r\n');
      expect(await c.line()).toMatch(/^452 /);
    } finally {
      c.close();
    }
  });

  it('pop3: the line length limit', async () => {
    const c = await LineClient.connect(port('pop3'));
    try {
      await c.until(/^\+OK/);
      c.send(`NOOP ${'x'.repeat(100)}\r\n`);
      expect(await c.line()).toBe('-ERR line too long');
    } finally {
      c.close();
    }
  });

  it('ftp: anonymous logins off, and its limits (listed flat) reach the server', async () => {
    const c = await LineClient.connect(port('ftp'));
    try {
      await c.until(/^220 /);
      c.send('USER anonymous\r\n');
      expect(await c.line()).toMatch(/^530 /);
      c.send(`NOOP ${'x'.repeat(200)}\r\n`);
      expect(await c.line()).toMatch(/^500 .*too long/i);
    } finally {
      c.close();
    }
  });

  it('chat: the line length limit', async () => {
    const c = await LineClient.connect(port('chat'));
    try {
      c.send(`${'y'.repeat(120)}\n`);
      expect(await c.until(/too long/i)).toMatch(/too long/i);
    } finally {
      c.close();
    }
  });
});
