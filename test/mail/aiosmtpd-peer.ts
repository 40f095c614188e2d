/**
 * aiosmtpd (Debian `python3-aiosmtpd`) as an independent SMTP peer for our sender: started as a child
 * on a free port (port 0, the bound port is printed), it stores every message byte for byte in a
 * Maildir (tmp → new) and prints one JSON line per envelope, so tests can check MAIL FROM / RCPT TO
 * (Bcc) as well as the message. Options: STARTTLS, implicit TLS, AUTH (PLAIN/LOGIN).
 */
import { type ChildProcess, spawn } from 'node:child_process';

export const DEBIAN_PYTHON = '/usr/bin/python3';

const SCRIPT = `
import asyncio, json, os, ssl, sys, time
from aiosmtpd.smtp import SMTP, AuthResult

maildir, certfile, keyfile, mode, user, password, host = sys.argv[1:8]
for d in ('tmp', 'new', 'cur'):
    os.makedirs(os.path.join(maildir, d), exist_ok=True)
counter = 0

class Handler:
    async def handle_DATA(self, server, session, envelope):
        global counter
        counter += 1
        name = '%d.P%dQ%d.aiosmtpd' % (int(time.time()), os.getpid(), counter)
        tmp = os.path.join(maildir, 'tmp', name)
        with open(tmp, 'wb') as f:
            f.write(envelope.original_content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(maildir, 'new', name))
        print(json.dumps({'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos,
                          'file': os.path.join(maildir, 'new', name),
                          'tls': server.transport.get_extra_info('ssl_object') is not None, 'auth': session.authenticated,
                          'helo': session.host_name}), flush=True)
        return '250 OK stored'

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)

ctx = None
if certfile:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)

def factory():
    kw = {}
    if mode == 'starttls':
        kw['tls_context'] = ctx
        kw['require_starttls'] = True
    if user:
        kw['authenticator'] = authenticator
        kw['auth_require_tls'] = mode != 'plain'
        kw['auth_required'] = True
    return SMTP(Handler(), hostname='aiosmtpd.test', **kw)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host, 0, ssl=ctx if mode == 'implicit' else None)
    print(json.dumps({'port': server.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
`;

export interface Envelope {
  mail_from: string;
  rcpt_tos: string[];
  file: string;
  tls: boolean;
  auth: boolean;
  /** the name the client gave in EHLO / HELO */
  helo: string;
}

export interface AiosmtpdPeer {
  port: number;
  child: ChildProcess;
  /** resolves with the next stored envelope */
  nextEnvelope(timeoutMs?: number): Promise<Envelope>;
  stop(): Promise<void>;
}

export async function startAiosmtpd(
  maildir: string,
  opts: {
    mode?: 'plain' | 'starttls' | 'implicit';
    cert?: string;
    key?: string;
    user?: string;
    password?: string;
    /** address to listen on (default 127.0.0.1) */
    host?: string;
  } = {},
): Promise<AiosmtpdPeer> {
  const child = spawn(
    DEBIAN_PYTHON,
    [
      '-c',
      SCRIPT,
      maildir,
      opts.cert ?? '',
      opts.key ?? '',
      opts.mode ?? 'plain',
      opts.user ?? '',
      opts.password ?? '',
      opts.host ?? '127.0.0.1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d.toString();
  });
  const envelopes: Envelope[] = [];
  const waiters: Array<(e: Envelope) => void> = [];
  let buf = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`aiosmtpd exited ${code}: ${stderr}`)));
    child.once('error', reject);
    child.stdout!.on('data', (d) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i !== -1) {
        const rec = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (typeof rec.port === 'number') resolve(rec.port);
        else {
          const w = waiters.shift();
          if (w) w(rec);
          else envelopes.push(rec);
        }
        i = buf.indexOf('\n');
      }
    });
  });
  return {
    port,
    child,
    nextEnvelope(timeoutMs = 10_000) {
      const e = envelopes.shift();
      if (e) return Promise.resolve(e);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no envelope within ${timeoutMs} ms: ${stderr}`)),
          timeoutMs,
        );
        waiters.push((env) => {
          clearTimeout(t);
          resolve(env);
        });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await done;
    },
  };
}
