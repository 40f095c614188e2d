import { describe, expect, it } from 'vitest';
import { hostAllowed, hostName } from '../../src/core/host-check.js';

describe('host names a loopback server answers to (DNS rebinding)', () => {
  it('reads the name out of a Host header', () => {
    expect(hostName('Example.ORG:8080')).toBe('example.org');
    expect(hostName('[::1]:80')).toBe('::1');
    expect(hostName('localhost.')).toBe('localhost');
  });

  it('allows loopback names, the bound address and the extra names; * or anyName allow all', () => {
    for (const h of ['127.0.0.1', 'localhost:1', 'a.localhost', '[::1]', '127.9.9.9:80'])
      expect(hostAllowed(h, '127.0.0.1', false), h).toBe(true);
    expect(hostAllowed('evil.example', '127.0.0.1', false)).toBe(false);
    expect(hostAllowed('lab.test:80', '127.0.0.1', false, ['LAB.test'])).toBe(true);
    expect(hostAllowed('evil.example', '127.0.0.1', false, ['*'])).toBe(true);
    expect(hostAllowed('evil.example', '192.168.1.5', true)).toBe(true);
    expect(hostAllowed('192.168.1.5:80', '192.168.1.5', false)).toBe(true);
  });
});
