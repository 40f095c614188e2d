/**
 * Failures at run time are one plain line on stderr (exit 1), in words rather than system codes;
 * `--debug` adds the stack trace for a bug report.
 */
import { describe, expect, it } from 'vitest';
import { netkit } from '../helpers/net.js';
import { freePort } from '../sockets/peers.js';

describe('runtime errors', () => {
  it('an address that is not on this machine, an unknown host, a refused connection', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never a local address
    const notHere = await netkit(['udp', 'listen', '0', '--host', '192.0.2.1']);
    expect([notHere.code, notHere.stderr]).toEqual([
      1,
      'netkit: cannot listen on 192.0.2.1: the address is not on this machine\n',
    ]);
    const tcpNotHere = await netkit(['tcp', 'listen', '0', '--host', '192.0.2.1']);
    expect(tcpNotHere.stderr).toBe(
      'netkit: cannot listen on 192.0.2.1: the address is not on this machine\n',
    );
    const unknown = await netkit(['tcp', 'listen', '0', '--host', 'nosuch.invalid']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'netkit: cannot resolve host "nosuch.invalid"\n']);
    const closed = await freePort();
    const refused = await netkit(['chat', 'join', `127.0.0.1:${closed}`]);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `netkit: connection refused by 127.0.0.1:${closed}\n`,
    ]);
  });

  it('--debug prints the stack after the line', async () => {
    const closed = await freePort();
    const r = await netkit(['tcp', 'connect', '127.0.0.1', String(closed), '--debug']);
    expect(r.code).toBe(1);
    const [first, ...rest] = r.stderr.trimEnd().split('\n');
    expect(first).toBe(`netkit: connection refused by 127.0.0.1:${closed}`);
    expect(rest.some((l) => /^\s+at /.test(l))).toBe(true);
  });
});
