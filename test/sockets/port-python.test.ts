/**
 * Interop: `netkit port` against Python's `socket.getservbyname` / `getservbyport` (libc's
 * services lookups) on this machine, for every name, alias and port in the services database,
 * plus names and ports that are not in it.
 */
import { describe, expect, it } from 'vitest';
import { loadServices } from '../../src/sockets/services.js';
import { netkit, run } from '../helpers/net.js';

const PYTHON = `
import json, socket, sys
out = []
for q in json.load(sys.stdin):
    name, _, proto = q.partition('/')
    args = (proto,) if proto else ()
    try:
        if name.isdigit():
            out.append({'query': q, 'name': socket.getservbyport(int(name), *args)})
        else:
            out.append({'query': q, 'port': socket.getservbyname(name, *args)})
    except OSError:
        out.append({'query': q, 'missing': True})
json.dump(out, sys.stdout)
`;

describe('netkit port vs Python socket.getservby*', () => {
  it('gives the same answers for every entry of the services database', async () => {
    const db = await loadServices();
    // the comparison only means something against the machine's own database
    expect(db.source).toBe('/etc/services');
    const queries = new Set<string>();
    for (const e of db.entries) {
      for (const n of [e.name, ...e.aliases]) {
        queries.add(n);
        queries.add(`${n}/${e.protocol}`);
      }
      queries.add(String(e.port));
      queries.add(`${e.port}/tcp`);
      queries.add(`${e.port}/udp`);
    }
    for (const extra of ['4', '1023', '50000/udp', '65535', 'no-such-service', 'http/udp', 'domain/udp']) {
      queries.add(extra);
    }
    const list = [...queries].filter((q) => /^(\d+|[A-Za-z0-9][\w.+-]*)(\/(tcp|udp))?$/.test(q));
    expect(list.length).toBeGreaterThan(500);

    const [ours, py] = await Promise.all([
      netkit(['port', '--json', ...list]),
      run('python3', ['-c', PYTHON], { input: JSON.stringify(list) }),
    ]);
    expect(py.code).toBe(0);
    const theirs = JSON.parse(py.stdout) as Array<{
      query: string;
      name?: string;
      port?: number;
      missing?: true;
    }>;
    const mine = new Map(
      ours.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { query: string; name: string | null; port: number })
        .map((r) => [r.query, r]),
    );
    // unknown names are reported on stderr (exit 1), every other query answered on stdout
    expect(ours.code).toBe(1);
    let compared = 0;
    for (const t of theirs) {
      const o = mine.get(t.query);
      if (/^\d/.test(t.query)) {
        expect(o, t.query).toBeDefined();
        expect(o!.name, `getservbyport ${t.query}`).toBe(t.missing ? null : t.name);
      } else if (t.missing) {
        expect(o, `${t.query} should be unknown`).toBeUndefined();
        expect(ours.stderr).toContain(`no service named "${t.query.split('/')[0]}"`);
      } else {
        expect(o?.port, `getservbyname ${t.query}`).toBe(t.port);
      }
      compared++;
    }
    expect(compared).toBe(list.length);
  });
});
