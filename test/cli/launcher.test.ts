import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { CLI, netkit, run } from '../helpers/net.js';

describe('netkit launcher', () => {
  it('prints the version (fast path) and exits 0', async () => {
    const r = await netkit(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it('lists the command groups with examples in --help', async () => {
    const r = await netkit(['--help']);
    expect(r.code).toBe(0);
    for (const g of [
      'lab',
      'tcp',
      'udp',
      'serve',
      'smtp',
      'pop3',
      'mail',
      'user',
      'url',
      'http',
      'download',
    ]) {
      expect(r.stdout).toContain(`  ${g} `);
    }
    expect(r.stdout).toContain('Examples:');
  });

  it('exits 2 with one line for an unknown command', async () => {
    const r = await netkit(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('stops quietly (exit 0, no stack trace) when the reader of its output goes away', async () => {
    // far more output than a pipe holds, so the writes hit the closed pipe
    const refs = Array.from({ length: 20_000 }, (_, i) => `x${i}`).join(' ');
    const r = await run('bash', [
      '-c',
      `"${process.execPath}" "${CLI}" url join --each http://a/b/ ${refs} | head -1; echo "rc=\${PIPESTATUS[0]}" >&2`,
    ]);
    expect(r.stdout).toBe('http://a/b/x0\n');
    expect(r.stderr).toBe('rc=0\n');
  });

  it('`help COMMAND [SUB]` shows the same help as `COMMAND [SUB] --help`', async () => {
    const [viaHelp, viaFlag, sub, bogus] = await Promise.all([
      netkit(['help', 'ip']),
      netkit(['ip', '--help']),
      netkit(['help', 'ftp', 'get']),
      netkit(['help', 'frobnicate']),
    ]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toContain('Examples:');
    expect(sub.stdout).toMatch(/^Usage: netkit ftp get /);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toBe("netkit: unknown command 'frobnicate' (see netkit --help)\n");
  });
});
