/**
 * `-F` / `multipart`: the same form sent by netkit and by curl to a server that parses it with
 * Python's `email` package (the RFC 2046 parser of the standard library) must come out the same:
 * names, filenames, part types and every byte (a binary file, a text field read with `<FILE`
 * whose LF line ends stay LF, a filename with a quote). Then a 307 redirect that sends the form
 * again, and the errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetkitError } from '../../src/core/errors.js';
import { httpError } from '../../src/http/http-error.js';
import { httpRequest } from '../../src/http/request.js';
import { netkit, run, tempDir } from '../helpers/net.js';
import { startTestServer, type TestServer } from './http-test-server.js';

const PARSER = `
import hashlib, http.server, json
from email import message_from_bytes, policy

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        head = b'Content-Type: ' + self.headers['Content-Type'].encode() + b'\\r\\n\\r\\n'
        msg = message_from_bytes(head + body, policy=policy.HTTP)
        parts = []
        for p in msg.iter_parts():
            data = p.get_payload(decode=True)
            parts.append({'name': p.get_param('name', header='content-disposition'),
                          'filename': p.get_filename(),
                          'type': p.get_content_type() if p.get_filename() else None,
                          'sha256': hashlib.sha256(data).hexdigest(), 'size': len(data)})
        out = json.dumps({'type': self.headers.get_content_type(), 'parts': parts}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
`;

let dir: string;
let cleanup: () => Promise<void>;
let python: ChildProcess;
let url: string;
let echo: TestServer;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-multipart-'));
  await writeFile(path.join(dir, 'blob.bin'), randomBytes(300_000));
  await writeFile(path.join(dir, 'note.txt'), 'line one\nline two\n');
  python = spawn('/usr/bin/python3', ['-c', PARSER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    python.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    python.once('exit', (code) => reject(new Error(`parser exited ${code}`)));
  });
  url = `http://127.0.0.1:${port}/`;
  echo = await startTestServer();
});
afterAll(async () => {
  python?.kill();
  await echo?.close();
  await cleanup();
});

describe('multipart/form-data (curl -F)', () => {
  it('sends what curl sends, as Python’s email parser reads it', async () => {
    const fields = [
      '-F',
      'file=@blob.bin;type=image/png',
      '-F',
      'note=<note.txt',
      '-F',
      'plain=hello world',
      '-F',
      'copy=@note.txt;filename=re"named.txt',
    ];
    const ours = await netkit(['http', 'post', url, ...fields], { cwd: dir });
    expect(ours.code, ours.stderr).toBe(0);
    const theirs = await run('curl', ['-sS', url, ...fields], { cwd: dir });
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs.stdout));
    const parsed = JSON.parse(ours.stdout) as {
      parts: Array<{ name: string; size: number; type: string | null }>;
    };
    // the binary arrived whole; the text field kept its LF line ends (18 bytes, not 20)
    expect(parsed.parts.map((p) => [p.name, p.size, p.type])).toEqual([
      ['file', 300_000, 'image/png'],
      ['note', 18, null],
      ['plain', 11, null],
      ['copy', 18, 'text/plain'],
    ]);
  });

  it('reads curl’s -F grammar as curl does: quotes, type parameters, <FILE bytes, --form-string', async () => {
    await writeFile(path.join(dir, 'bin.raw'), Buffer.from([0xff, 0xfe, 0x00, 0x62, 0x69, 0x6e]));
    for (const args of [
      ['-F', 'a=<bin.raw'],
      ['-F', 'a=@note.txt;type=text/plain;charset=utf-8'],
      ['-F', 'f=@note.txt;filename="we;ird.txt"'],
      ['-F', 'f=@note.txt;filename=other.bin'],
      ['-F', 'a=x;type=text/foo'],
      ['-F', 'a="x;y"'],
      ['--form-string', 'a=@literal;not=a param'],
    ]) {
      const ours = await netkit(['http', 'post', url, ...args], { cwd: dir });
      const theirs = await run('curl', ['-sS', url, ...args], { cwd: dir });
      expect(ours.code, `${args.join(' ')}: ${ours.stderr}`).toBe(0);
      expect(JSON.parse(ours.stdout), args.join(' ')).toEqual(JSON.parse(theirs.stdout));
    }
    // standard input, as a file (@-) and as a field (<-), read whole as curl reads it
    for (const field of ['a=@-', 'a=<-']) {
      const ours = await netkit(['http', 'post', url, '-F', field], { input: 'from stdin\n' });
      const theirs = await run('curl', ['-sS', url, '-F', field], { input: 'from stdin\n' });
      expect(ours.code, ours.stderr).toBe(0);
      expect(JSON.parse(ours.stdout), field).toEqual(JSON.parse(theirs.stdout));
    }
    // the raw bytes of <FILE arrive unchanged (not decoded as UTF-8)
    const raw = await netkit(['http', 'post', url, '-F', 'a=<bin.raw'], { cwd: dir });
    expect(JSON.parse(raw.stdout).parts[0].size).toBe(6);
    // a multipart type of the caller's own still gets the boundary (curl appends it too)
    const own = await netkit(['http', 'post', url, '-F', 'a=b', '-H', 'Content-Type: multipart/form-data']);
    expect(JSON.parse(own.stdout).parts).toHaveLength(1);
  });

  it('sends the form again after a 307 redirect (library), with an exact Content-Length', async () => {
    const res = await httpRequest({
      url: `${echo.origin}/redirect/307?to=/echo`,
      method: 'POST',
      followRedirects: true,
      multipart: [
        { name: 'a', value: 'first' },
        { name: 'up', file: path.join(dir, 'note.txt') },
      ],
    });
    const sent = JSON.parse(res.body.toString()) as { headers: Record<string, string>; body: string };
    expect(sent.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(Number(sent.headers['content-length'])).toBe(Buffer.byteLength(sent.body));
    expect(sent.body).toContain('Content-Disposition: form-data; name="a"\r\n\r\nfirst\r\n');
    expect(sent.body).toContain(
      'filename="note.txt"\r\nContent-Type: text/plain\r\n\r\nline one\nline two\n\r\n',
    );
  });

  it('refuses a missing file before sending, and -F beside another body option', async () => {
    const missing = await netkit(['http', 'post', url, '-F', 'f=@nope.bin'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^netkit: cannot read nope\.bin: /);
    const both = await netkit(['http', 'post', url, '-F', 'a=b', '-d', 'x=y']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give only one of -d, --data-file, --form, -F, --json/);
    const bad = await netkit(['http', 'post', url, '-F', 'novalue']);
    expect(bad.code).toBe(2);
    const param = await netkit(['http', 'post', url, '-F', 'f=@note.txt;size=3'], { cwd: dir });
    expect(param.code).toBe(2);
    expect(param.stderr).toMatch(/type= and filename= are known/);
    const emptyType = await netkit(['http', 'post', url, '-F', 'f=@note.txt;type='], { cwd: dir });
    expect(emptyType.code).toBe(2);
    // the library checks its fields too: no header injection through a type, no nameless field
    await expect(
      httpRequest({
        url,
        method: 'POST',
        multipart: [{ name: 'a', value: 'x', type: 'text/plain\r\nX-Inj: 1' }],
      }),
    ).rejects.toThrow(/bad type/);
    await expect(
      httpRequest({ url, method: 'POST', multipart: [{ name: 'a', value: 'x', file: 'y' }] }),
    ).rejects.toThrow(/exactly one of value, valueFile, file/);
    await expect(httpRequest({ url, method: 'POST', multipart: [] })).rejects.toThrow(/at least one field/);
  });
});

describe('an upload whose file changes while it is sent', () => {
  it('is reported as the file’s problem, not the server’s', () => {
    const mismatch = Object.assign(new Error('Request body length does not match content-length header'), {
      code: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
    });
    expect(httpError(mismatch, 'http://127.0.0.1:8080/up').message).toBe(
      'the request body changed size while it was being sent to 127.0.0.1:8080 (a file grew or shrank); the request was cut off',
    );
    const gone = Object.assign(new Error("ENOENT: no such file or directory, open 'race.txt'"), {
      code: 'ENOENT',
      syscall: 'open',
      path: 'race.txt',
    });
    const e = httpError(gone, 'http://127.0.0.1:8080/up') as NetkitError;
    expect(e.code).toBe('NETKIT_IO');
    expect(e.message).toMatch(/^cannot read race\.txt while sending it: /);
  });
});
