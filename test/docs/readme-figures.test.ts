/**
 * Figures the README states in more than one place must agree with each other, and where the figure
 * is a property of the code rather than of a benchmark run, with the code: the chat chapter and the
 * Benchmarks table quote the same chat runs; every mention of the dashboard's JavaScript gives one
 * size, that of `web/*.js` as the lab serves it (the bytes bench/lab.mjs adds up: not minified, not
 * compressed), within 5% so that a small edit of the front end does not fail here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const chapter = (name: string) => readFileSync(path.join(ROOT, 'docs/readme', name), 'utf8');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README figures', () => {
  it('the chat chapter quotes the chat runs of the Benchmarks table', () => {
    const row = chapter('_development.md')
      .split('\n')
      .find((l) => l.startsWith('| `chat` |'));
    expect(row).toBeDefined();
    const cells = row!.split(' | ');
    const ranges = (text: string) => text.match(/\d+(?:\.\d+)?–\d+(?:\.\d+)?/g) ?? [];
    // deliveries per second (lines, burst) for both servers, then the ratios
    const ours = ranges(cells[2]!);
    const ncat = ranges(cells[3]!);
    const ratios = ranges(cells[4]!);
    expect([ours.length, ncat.length, ratios.length]).toEqual([2, 2, 2]);
    const chat = chapter('chat.md');
    const bench = chat.slice(chat.indexOf('**Benchmarks**'), chat.indexOf('## Multicast'));
    for (const r of [...ours, ...ncat]) expect(bench).toContain(`${r} M deliveries/s`);
    expect(bench).toContain(`${ratios[0]}× ncat's`);
    expect(bench).toContain(`${ratios[1]}×`);
    const met = /: met \|$/.test(row!);
    expect(bench.includes('not met')).toBe(!met);
  });

  it("every mention of the dashboard's JavaScript gives one size, the one the lab serves", () => {
    const web = path.join(ROOT, 'web');
    const bytes = readdirSync(web)
      .filter((f) => f.endsWith('.js'))
      .reduce((sum, f) => sum + statSync(path.join(web, f)).size, 0);
    const kb = bytes / 1024;
    expect(kb).toBeLessThanOrEqual(300); // the budget
    // `… JavaScript … ≈15 KB`, `16.7 KB JS`, `20.9 KB of JavaScript`
    const stated = [
      ...README.matchAll(
        /JavaScript[^.|]{0,60}?≈?\s*(\d+(?:\.\d+)?) KB|(\d+(?:\.\d+)?) KB (?:of JavaScript|JS)\b/g,
      ),
    ].map((m) => Number(m[1] ?? m[2]));
    expect(stated.length).toBeGreaterThanOrEqual(3);
    expect(new Set(stated).size).toBe(1);
    expect(Math.abs(stated[0]! - kb) / kb).toBeLessThan(0.05);
  });
});
