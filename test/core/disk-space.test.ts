import { describe, expect, it } from 'vitest';
import { belowReserve, cachedFreeSpace } from '../../src/core/disk-space.js';

describe('cachedFreeSpace', () => {
  const GiB = 1024 ** 3;

  function fake(values: number[]) {
    const calls: string[] = [];
    const fn = (dir: string) => {
      calls.push(dir);
      return values[Math.min(calls.length - 1, values.length - 1)]!;
    };
    return { fn, calls };
  }

  it('answers from its last statfs for a second while the disk is far above the threshold', () => {
    let t = 0;
    const kernel = fake([10 * GiB, 9 * GiB]);
    const cached = cachedFreeSpace(kernel.fn, { trustAbove: 2 * GiB, now: () => t });
    expect(cached('/m')).toBe(10 * GiB);
    t = 999;
    expect(cached('/m')).toBe(10 * GiB);
    expect(kernel.calls).toHaveLength(1);
    t = 1000;
    expect(cached('/m')).toBe(9 * GiB);
    expect(kernel.calls).toHaveLength(2);
  });

  it('asks the kernel every time once free space is at or below the threshold', () => {
    const t = 0;
    const kernel = fake([2 * GiB, GiB, 0]);
    const cached = cachedFreeSpace(kernel.fn, { trustAbove: 2 * GiB, now: () => t });
    expect(cached('/m')).toBe(2 * GiB);
    expect(cached('/m')).toBe(GiB);
    expect(cached('/m')).toBe(0);
    expect(kernel.calls).toHaveLength(3);
    expect(belowReserve(cached, '/m', 1)).toBe(true);
  });

  it('keeps one answer per directory', () => {
    const kernel = fake([5 * GiB]);
    const cached = cachedFreeSpace(kernel.fn, { trustAbove: GiB, now: () => 0 });
    cached('/a');
    cached('/b');
    cached('/a');
    expect(kernel.calls).toEqual(['/a', '/b']);
  });
});
