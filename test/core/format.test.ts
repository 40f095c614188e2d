/** The byte-size parser behind --limit-rate and the size flags, and the size formatter. */
import { describe, expect, it } from 'vitest';
import { formatBytes, maxOf, parseByteSize } from '../../src/core/format.js';

describe('parseByteSize', () => {
  it.each([
    ['0', 0],
    ['512', 512],
    ['512b', 512],
    ['10k', 10_240],
    ['10 KiB', 10_240],
    ['10kb', 10_240],
    ['1.5M', 1_572_864],
    ['2GiB', 2 * 1024 ** 3],
    ['1t', 1024 ** 4],
    ['1P', 1024 ** 5],
    [' 7 ', 7],
  ])('%j = %d', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'k', '-1', '1x', '1ib', '1KB/s', '1 M x', '1e3', '.5k'])('%j is no size', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1_572_864, '1.5 MiB'],
    [5 * 1024 ** 4, '5.0 TiB'],
  ])('%d → %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe('maxOf', () => {
  it('is the largest value, or the floor for none', () => {
    expect(maxOf([3, 9, 2])).toBe(9);
    expect(maxOf([], 1)).toBe(1);
    expect(maxOf([0, 0], 1)).toBe(1);
  });

  it('takes as many values as a big LIST has (Math.max(...values) overflows the stack there)', () => {
    const many = Array.from({ length: 300_000 }, (_, i) => i % 1000);
    expect(() => Math.max(...many)).toThrow(RangeError);
    expect(maxOf(many)).toBe(999);
  });
});
