import { describe, expect, it } from 'vitest';
import { configFromEnv, configFromFile, resolveLabConfig } from '../../src/lab/config.js';

describe('lab config', () => {
  it('defaults to the PRODUCT.md ports on loopback', () => {
    const c = resolveLabConfig();
    expect(c.host).toBe('127.0.0.1');
    expect(c.ports).toMatchObject({
      ui: 8025,
      smtp: 2525,
      smtpTls: 4650,
      pop3: 1110,
      pop3Tls: 1995,
      ftp: 2121,
      ftpTls: 9900,
      chat: 7070,
      chatTls: 7443,
      http: 8080,
      https: 8443,
      classicBase: 7000,
    });
  });

  it('layers file < env < flags', () => {
    const file = configFromFile({ ports: { smtp: 3000, ftp: 3021 }, host: '127.0.0.2' });
    const env = configFromEnv({ NETKIT_SMTP_PORT: '4000', NETKIT_DATA: '/tmp/x' });
    const c = resolveLabConfig(file, env, { ports: { smtp: 5000 } });
    expect(c.ports.smtp).toBe(5000);
    expect(c.ports.ftp).toBe(3021);
    expect(c.host).toBe('127.0.0.2');
    expect(c.dataDir).toBe('/tmp/x');
  });

  it('applies --port-offset to every fixed port but leaves 0 alone', () => {
    const c = resolveLabConfig({ portOffset: 10000, ports: { chat: 0 } });
    expect(c.ports.smtp).toBe(12525);
    expect(c.ports.chat).toBe(0);
  });

  it('rejects typos and bad ports with a clear message', () => {
    expect(() => configFromFile({ prots: {} })).toThrow(/unknown key "prots"/);
    expect(() => configFromFile({ ports: { smpt: 1 } })).toThrow(/unknown port "smpt"/);
    expect(() => configFromEnv({ NETKIT_FTP_PORT: '70000' })).toThrow(/NETKIT_FTP_PORT/);
    expect(() => resolveLabConfig({ portOffset: 65000 })).toThrow(/--ui-port/);
    expect(() => resolveLabConfig({ portOffset: 70000 })).toThrow(/out of range/);
    expect(() => resolveLabConfig({ portOffset: 1.5 })).toThrow(/not an integer/);
  });

  it('takes a port only as a number (file) or decimal digits (environment), never coerced', () => {
    // Number() would make true port 1, null and "" port 0 (any free port), "0x50" port 80
    for (const bad of [true, null, '2525', '', [25], 25.5, -1])
      expect(() => configFromFile({ ports: { smtp: bad } }), JSON.stringify(bad)).toThrow(
        `netkit.config.json ports.smtp: ${JSON.stringify(bad)} is not a port (0-65535)`,
      );
    for (const bad of ['0x50', '1e3', ' 25', '25.0'])
      expect(() => configFromEnv({ NETKIT_SMTP_PORT: bad }), bad).toThrow(
        `NETKIT_SMTP_PORT: ${JSON.stringify(bad)} is not a port`,
      );
    expect(configFromEnv({ NETKIT_SMTP_PORT: '2626' }).ports?.smtp).toBe(2626);
    for (const bad of [[], 'smtp', 5])
      expect(() => configFromFile({ ports: bad }), JSON.stringify(bad)).toThrow('"ports" must be an object');
    expect(() => configFromFile({ ports: { toString: 1 } })).toThrow('unknown port "toString"');
  });

  it('refuses values of the wrong type from the file or the environment, instead of ignoring them', () => {
    expect(() => resolveLabConfig(configFromEnv({ NETKIT_MAX_MESSAGES: 'abc' }))).toThrow(
      'max messages must be a whole number (0 = no cap), not null',
    );
    expect(() => resolveLabConfig(configFromFile({ maxMessages: 'lots' }))).toThrow(
      'max messages must be a whole number (0 = no cap), not "lots"',
    );
    expect(() => resolveLabConfig(configFromFile({ host: 5 }))).toThrow(
      'host must be a non-empty string, not 5',
    );
    expect(() => resolveLabConfig(configFromFile({ acceptAnyAuth: 'yes' }))).toThrow(
      'acceptAnyAuth must be true or false, not "yes"',
    );
    expect(
      resolveLabConfig(configFromFile({ maxMessages: 0, host: '0.0.0.0', uiAuth: 'admin:s3cret' })),
    ).toMatchObject({ maxMessages: 0, host: '0.0.0.0' });
  });

  it('refuses a host off loopback without --ui-auth while checking the configuration, from any layer', () => {
    const refusal = 'the dashboard binds 0.0.0.0, which is not loopback: add --ui-auth user:pass';
    expect(() => resolveLabConfig({ host: '0.0.0.0' })).toThrow(refusal);
    expect(() => resolveLabConfig(configFromEnv({ NETKIT_HOST: '0.0.0.0' }))).toThrow(refusal);
    expect(() => resolveLabConfig(configFromFile({ host: '0.0.0.0' }))).toThrow(
      expect.objectContaining({ code: 'NETKIT_USAGE' }),
    );
    expect(() => resolveLabConfig({ host: '::' })).toThrow(/binds ::, which is not loopback/);
    // a password from another layer will do, and loopback needs none
    expect(resolveLabConfig({ uiAuth: 'a:b' }, { host: '0.0.0.0' }).host).toBe('0.0.0.0');
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost'])
      expect(resolveLabConfig({ host }).host).toBe(host);
  });

  it('accepts --ui-auth only as USER:PASSWORD, so nobody starts a dashboard no one can open', () => {
    expect(resolveLabConfig({ uiAuth: 'admin:s3:cret' }).uiAuth).toBe('admin:s3:cret');
    for (const bad of ['nocolon', 'admin:', ':secret', ''])
      expect(() => resolveLabConfig({ uiAuth: bad })).toThrow(/USER:PASSWORD/);
  });
});
