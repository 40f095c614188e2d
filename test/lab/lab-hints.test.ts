/**
 * The start-up table's hints are meant to be copied and pasted: the `mail send` hint must work as
 * printed, also when the lab's data directory is not the default one (it then names `--data`, so
 * `mail send` trusts that directory's development certificate for STARTTLS); so must the hints of
 * the TLS ports (HTTPS and implicit FTPS with curl --cacert, chat over TLS with `chat join --tls`).
 * The TLS ports are also driven by independent clients: curl, Python's ssl.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveLabConfig } from '../../src/lab/config.js';
import { type LabHandle, startLab } from '../../src/lab/lab.js';
import { LAB_ANY_PORTS } from '../helpers/lab.js';
import { LineClient, netkit, run, tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let lab: LabHandle;

beforeAll(async () => {
  tmp = await tempDir('netkit-lab-hints-');
  lab = await startLab(resolveLabConfig({ dataDir: path.join(tmp.dir, 'lab data'), ports: LAB_ANY_PORTS }));
});
afterAll(async () => {
  await lab?.close();
  await tmp.cleanup();
});

/** A hint split the way a shell would: a quoted word is one word. */
const words = (hint: string): string[] => [...hint.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);

const service = (name: string) => {
  const s = lab.services().find((x) => x.name === name);
  if (!s) throw new Error(`no ${name} in the lab's services`);
  return s;
};

describe('lab start-up hints', () => {
  it('the mail send hint names a non-default --data and works as printed', async () => {
    const hint = lab.services().find((s) => s.name === 'smtp')!.hint!;
    expect(hint).toContain(`--data '${path.join(tmp.dir, 'lab data')}'`);
    const argv = words(hint);
    expect(argv[0]).toBe('netkit');
    const r = await netkit(argv.slice(1), { cwd: tmp.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // and the POP3 hint, run next, finds that message: both hints name the same mailbox
    const pop3 = words(service('pop3').hint!);
    expect(pop3[0]).toBe('curl');
    const list = await run('curl', ['-sS', ...pop3.slice(1)]);
    expect(list.stderr).toBe('');
    expect(list.stdout).toMatch(/^1 \d+\r?$/m);
  });

  it('the HTTPS, FTPS and POP3S hints work as printed: curl verifies the lab certificate', async () => {
    const cert = path.join(lab.dataDir, 'tls', 'dev-cert.pem');
    for (const name of ['https', 'ftps', 'pop3s']) {
      const s = service(name);
      expect(s.tls).toBe(true);
      const argv = words(s.hint!);
      expect(argv.slice(0, 3)).toEqual(['curl', '--cacert', cert]);
      const r = await run(argv[0]!, ['-sS', ...argv.slice(1)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('the chat TLS hint works as printed, and TLS and plain clients share the rooms', async () => {
    const plain = await LineClient.connect(service('chat').port);
    await plain.until(/\*\*\* .*joined #lobby|lobby/);
    // an independent TLS client: Python's ssl, verifying the lab certificate
    const py = `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="127.0.0.1") as s:
    s.recv(4096)
    s.sendall(b"hello over tls\\n")
    s.sendall(b"/quit\\n")
    while s.recv(4096):
        pass
`;
    const cert = path.join(lab.dataDir, 'tls', 'dev-cert.pem');
    const r = await run('python3', ['-c', py, String(service('chat-tls').port), cert]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await plain.until(/hello over tls/)).toMatch(/> hello over tls$/);
    // and the hint itself: `netkit chat join --tls HOST:PORT --data DIR` says a line and leaves
    const argv = words(service('chat-tls').hint!);
    expect(argv.slice(0, 4)).toEqual(['netkit', 'chat', 'join', '--tls']);
    const joined = await netkit([...argv.slice(1), '--nick', 'hinted'], { input: 'from the hint\n/quit\n' });
    expect(joined.stderr).toBe('');
    expect(joined.code).toBe(0);
    expect(await plain.until(/from the hint/)).toMatch(/hinted> from the hint$/);
    plain.close();
  });
});

describe('a lab on :: (every interface, IPv6 and IPv4, behind --ui-auth)', () => {
  let wide: LabHandle;
  let wideTmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    wideTmp = await tempDir('netkit-lab-hints-any-');
    wide = await startLab(
      resolveLabConfig({ dataDir: wideTmp.dir, ports: LAB_ANY_PORTS, host: '::', uiAuth: 'ops:s3cret' }),
    );
  });
  afterAll(async () => {
    await wide?.close();
    await wideTmp?.cleanup();
  });

  it('names [::1] to connect to, not the wildcard: the TLS hints verify and the dashboard URL opens', async () => {
    const hinted = (name: string) => wide.services().find((s) => s.name === name)!;
    expect(hinted('smtp').host).toBe('::');
    expect(wide.dashboard.url).toBe(`http://[::1]:${wide.dashboard.port}/`);
    // the certificate names localhost, 127.0.0.1 and ::1, never ::
    for (const name of ['https', 'ftps', 'pop3s']) {
      const argv = words(hinted(name).hint!);
      expect(argv.join(' ')).toContain(`[::1]:${hinted(name).port}/`);
      const r = await run(argv[0]!, ['-sS', ...argv.slice(1)]);
      expect([r.code, r.stderr]).toEqual([0, '']);
    }
    expect(hinted('chat').hint).toBe(`nc ::1 ${hinted('chat').port}`);
    expect(hinted('http').hint).toBe(`curl http://[::1]:${hinted('http').port}/`);
    const ui = await run('curl', ['-sS', '-u', 'ops:s3cret', `${wide.dashboard.url}api/v1/status`]);
    expect([ui.code, ui.stderr]).toEqual([0, '']);
    expect(JSON.parse(ui.stdout)).toEqual(expect.any(Object));
  });
});
