import { describe, expect, it } from 'vitest';
import { UdpReplyGuard } from '../../src/sockets/udp-guard.js';

describe('UdpReplyGuard', () => {
  it('refuses port 0, privileged source ports and our own service ports', () => {
    const g = new UdpReplyGuard({ servicePorts: [7007, 7019] });
    for (const port of [0, 7, 19, 53, 123, 1023, 7007, 7019]) expect(g.refuse('10.0.0.1', port)).toBe('port');
    expect(g.refuse('10.0.0.1', 1024)).toBeUndefined();
    expect(g.refuse('10.0.0.1', 40000)).toBeUndefined();
    expect(g.dropped.port).toBe(8);
  });

  it('allows a burst per source IP, then the rate, per IP', () => {
    let t = 0;
    const g = new UdpReplyGuard({ perIpRate: 3, now: () => t });
    const burst = Array.from({ length: 5 }, () => g.refuse('10.0.0.1', 40000));
    expect(burst).toEqual([undefined, undefined, undefined, 'rate', 'rate']);
    expect(g.refuse('10.0.0.2', 40000)).toBeUndefined(); // another IP has its own bucket
    t = 1000 / 3; // one token back
    expect([g.refuse('10.0.0.1', 40001), g.refuse('10.0.0.1', 40001)]).toEqual([undefined, 'rate']);
    expect(g.dropped.rate).toBe(3);
  });
});
