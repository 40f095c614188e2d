/**
 * Python's ftplib (Debian's /usr/bin/python3) as a test client: `python(script, port)` runs a
 * script after a prelude of connect helpers and returns the `R` dictionary it fills, as JSON.
 */
import { run } from '../helpers/net.js';

const PY = '/usr/bin/python3';

/** Common Python prelude: connect helpers and `expect_error` that records the reply code. */
const PRELUDE = `
import ftplib, io, json, os, ssl, sys, hashlib
PORT = int(sys.argv[1])
R = {}
def plain():
    f = ftplib.FTP(timeout=10)
    f.connect('127.0.0.1', PORT)
    return f
def secure():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    f = ftplib.FTP_TLS(context=ctx, timeout=10)
    f.connect('127.0.0.1', PORT)
    return f
def strict():
    # as python.org builds (OpenSSL 3) are: a data connection closed without TLS close_notify
    # is an error there; Debian's Python hides that with OP_IGNORE_UNEXPECTED_EOF
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.options &= ~getattr(ssl, 'OP_IGNORE_UNEXPECTED_EOF', 0)
    f = ftplib.FTP_TLS(context=ctx, timeout=10)
    f.connect('127.0.0.1', PORT)
    return f
def code(fn, *a, **k):
    try:
        fn(*a, **k)
        return 'ok'
    except ftplib.all_errors as e:
        return str(e)[:3]
def stor_code(f, cmd, data, rest=None):
    # the reply to an upload, also when the server stops reading (a limit) and the send breaks
    # first: ftplib then raises the socket error without reading the reply, so read it here
    try:
        return f.storbinary(cmd, io.BytesIO(data), rest=rest)[:3]
    except ftplib.all_errors as e:
        c = str(e)[:3]
        return c if c.isdigit() else code(f.getresp)
def get(f, name, rest=None):
    b = io.BytesIO()
    f.retrbinary('RETR ' + name, b.write, rest=rest)
    return b.getvalue()
blob = bytes((i * 7 + 3) % 256 for i in range(300000))
`;

export async function python(script: string, port: number): Promise<Record<string, unknown>> {
  const r = await run(PY, ['-c', `${PRELUDE}\n${script}\nprint(json.dumps(R))`, String(port)], {
    timeoutMs: 25_000,
  });
  if (r.code !== 0) throw new Error(`python failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
