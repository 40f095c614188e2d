/**
 * A server command whose output reader goes away — `netkit smtp serve --json | head -1`, a script
 * that takes the listening line and closes the pipe — goes on serving: its event log and trace
 * stop being printed, its sessions are not cut and it still stops cleanly on SIGTERM. (It used to
 * exit at the first event it logged, resetting the session that caused it.)
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from '../helpers/net.js';
import { spawnNetkit } from '../sockets/peers.js';

/** Files in every `new/` folder below `dir`: messages delivered into Maildirs. */
async function delivered(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && path.basename(e.parentPath ?? e.path) === 'new').length;
}

describe('a server whose stdout and stderr readers go away', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('smtp serve --json --trace keeps serving Python smtplib, session after session, then stops on SIGTERM', async () => {
    const data = path.join(dir, 'smtp');
    const serve = await spawnNetkit(
      ['smtp', 'serve', '--port', '0', '--json', '--trace', '--data', data],
      /"port":(\d+)/,
    );
    try {
      // what `| head -1` does once it has the line: both pipes' readers are gone
      serve.child.stdout!.destroy();
      serve.child.stderr!.destroy();
      const script = `
import smtplib, sys
for i in range(3):
    s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
    s.sendmail('a@example.com', ['b@localhost'], 'Subject: %d\\r\\n\\r\\nhello\\r\\n' % i)
    print(s.quit()[0])
`;
      const py = await run('/usr/bin/python3', ['-c', script, serve.ready[1]!]);
      expect(py.stderr).toBe('');
      expect(py.stdout).toBe('221\n221\n221\n');
      expect(await delivered(data)).toBe(3);
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    } finally {
      await serve.kill();
    }
  });

  it('http serve --trace keeps answering curl after its trace lost its reader', async () => {
    const serve = await spawnNetkit(
      ['http', 'serve', dir, '--port', '0', '--json', '--trace'],
      /"port":(\d+)/,
    );
    try {
      serve.child.stdout!.destroy();
      serve.child.stderr!.destroy();
      const url = `http://127.0.0.1:${serve.ready[1]}/`;
      for (let i = 0; i < 3; i++) {
        const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', url]);
        expect([r.stdout, r.stderr]).toEqual(['200', '']);
      }
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    } finally {
      await serve.kill();
    }
  });
});
