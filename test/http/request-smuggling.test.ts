/**
 * Request framing against the published request-smuggling payloads (CL.TE, TE.CL, TE.TE
 * obfuscations, Content-Length tricks, obs-fold, bare CR/LF, NUL, chunk-size overflow, oversized
 * chunk extensions and heads), on both servers fed by socket-fed-server.ts: `http serve` and the
 * lab's dashboard. Each payload carries a second request, `GET /smuggled`, where a server reading
 * the framing differently would find one; every case asserts the exact answers and that the
 * connection is then closed. llhttp (strict) refuses most before any answer; what it refuses only
 * after the request was handed over (a Transfer-Encoding not ending in `chunked`, a broken chunk)
 * used to get our answer and then a second one, or have its body read as the next request; and a
 * malformed request pipelined behind a download had its 400 written in place of the file.
 * The `nginx` column is what Debian's nginx 1.22 answers, for reference.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { rawExchange, responseStatuses, startServe, tempDir } from '../helpers/net.js';
import { testLabContext } from '../lab/lab-context.js';

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
const post = (headers: string, body: string, method = 'POST') =>
  `${method} /hello.txt HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n${body}${SMUGGLED}`;
const chunked = (body: string) => post('Transfer-Encoding: chunked\r\n', body);

/** [name, request, http serve, dashboard, nginx] — the answers' statuses, in order */
const CASES: Array<[string, string, string[], string[], string]> = [
  [
    'CL.TE',
    post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    ['400'],
    ['400'],
    '400',
  ],
  [
    'TE.CL',
    post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', '8\r\nSMUGGLED\r\n0\r\n\r\n'),
    ['400'],
    ['400'],
    '400',
  ],
  ['TE: xchunked', post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'), ['400'], ['400'], '501'],
  ['TE: "chunked"', post('Transfer-Encoding: "chunked"\r\n', '0\r\n\r\n'), ['400'], ['400'], '501'],
  ['TE: chunked;x=1', post('Transfer-Encoding: chunked;x=1\r\n', '0\r\n\r\n'), ['400'], ['400'], '501'],
  [
    'TE: chunked, identity',
    post('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'),
    ['400'],
    ['400'],
    '501',
  ],
  [
    'TE: chunked + TE: x',
    post('Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n', '0\r\n\r\n'),
    ['400'],
    ['400'],
    '400',
  ],
  [
    'TE : chunked (space before colon)',
    post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'),
    ['400'],
    ['400'],
    '400',
  ],
  ['TE folded (obs-fold)', post('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n'), ['400'], ['400'], '400'],
  [
    'TE after a bare LF',
    post('X: y\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    ['400'],
    ['400'],
    '405 404',
  ],
  ['TE with NUL', post('Transfer-Encoding: chunked\0\r\n', '0\r\n\r\n'), ['400'], ['400'], '400'],
  [
    'TE in HTTP/1.0',
    post('Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n', '0\r\n\r\n').replace(
      'HTTP/1.1',
      'HTTP/1.0',
    ),
    ['400'],
    ['400'],
    '400',
  ],
  ['CL twice, same', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), ['400'], ['400'], '400'],
  [
    'CL twice, different',
    post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello'),
    ['400'],
    ['400'],
    '400',
  ],
  ['CL: 5, 5', post('Content-Length: 5, 5\r\n', 'hello'), ['400'], ['400'], '400'],
  ['CL: +5', post('Content-Length: +5\r\n', 'hello'), ['400'], ['400'], '400'],
  ['CL: 0x5', post('Content-Length: 0x5\r\n', 'hello'), ['400'], ['400'], '400'],
  ['CL: 1 2', post('Content-Length: 1 2\r\n', 'hello'), ['400'], ['400'], '400'],
  ['CL beyond 2^64', post('Content-Length: 99999999999999999999999\r\n', 'hello'), ['400'], ['400'], '400'],
  ['CL folded (obs-fold)', post('Content-Length: 0\r\n 5\r\n', 'hello'), ['400'], ['400'], '400'],
  [
    'CL: 05 (leading zero: valid)',
    post('Content-Length: 05\r\n', 'hello'),
    ['405', '404'],
    ['404', '404'],
    '405 404',
  ],
  ['NUL in a header name', post('X\0: a\r\nContent-Length: 0\r\n', ''), ['400'], ['400'], '400'],
  [
    'bare LF line ends',
    `GET /hello.txt HTTP/1.1\nHost: localhost\n\n${SMUGGLED}`,
    ['400'],
    ['400'],
    '200 404',
  ],
  [
    'bare CR in the head',
    `GET /hello.txt HTTP/1.1\r\nHost: localhost\rX: y\r\n\r\n${SMUGGLED}`,
    ['400'],
    ['400'],
    '400',
  ],
  [
    'header line starting with SP',
    `GET /hello.txt HTTP/1.1\r\n X: y\r\nHost: localhost\r\n\r\n${SMUGGLED}`,
    ['400'],
    ['400'],
    '400',
  ],
  ['chunk size over 64 bits', chunked('ffffffffffffffffff\r\nx\r\n0\r\n\r\n'), ['405'], ['404'], '405'],
  ['chunk size 0x5', chunked('0x5\r\nhello\r\n0\r\n\r\n'), ['405'], ['404'], '405'],
  ['chunk size -5', chunked('-5\r\nhello\r\n0\r\n\r\n'), ['405'], ['404'], '405'],
  ['chunk data not ended by CRLF', chunked('5\r\nhelloXX0\r\n\r\n'), ['405'], ['404'], '405'],
  ['chunk lines ended by bare LF', chunked('5\nhello\n0\n\n'), ['405'], ['404'], '405 404'],
  [
    'chunk extension of 100 kB',
    chunked(`5;${'a'.repeat(100_000)}\r\nhello\r\n0\r\n\r\n`),
    ['405'],
    ['404'],
    '405 404',
  ],
  [
    'Content-Length in the trailer',
    chunked('5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n'),
    ['405'],
    ['404'],
    '405 404',
  ],
  [
    'a 100 kB header',
    post(`X: ${'a'.repeat(100_000)}\r\nContent-Length: 0\r\n`, ''),
    ['431'],
    ['431'],
    '400',
  ],
  [
    'chunked body, then a request (no smuggling)',
    chunked('5\r\nhello\r\n0\r\n\r\n'),
    ['405', '404'],
    ['404', '404'],
    '405 404',
  ],
  [
    'GET with a body, then a request',
    post('Content-Length: 5\r\n', 'hello', 'GET'),
    ['200', '404'],
    ['404', '404'],
    '200 404',
  ],
];

let dir: string;
let cleanup: () => Promise<void>;
let files: FileServerHandle;
let dash: DashboardHandle;
const big = randomBytes(4 * 1024 * 1024);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-smuggling-'));
  await writeFile(path.join(dir, 'hello.txt'), 'hello, world\n');
  await writeFile(path.join(dir, 'big.bin'), big);
  files = await createFileServer({ root: dir, port: 0 });
  dash = await startDashboard(testLabContext(dir), { port: 0 });
});
afterAll(async () => {
  await files?.close();
  await dash?.close();
  await cleanup();
});

describe('request smuggling payloads', () => {
  it.each(CASES)('%s', async (_name, request, served, dashboard) => {
    expect(responseStatuses(await rawExchange(files.port, request)), 'http serve').toEqual(served);
    expect(responseStatuses(await rawExchange(dash.port, request)), 'dashboard').toEqual(dashboard);
  });

  it('a malformed request pipelined behind a download is answered after it, not in its place', async () => {
    // the 400 used to be written the moment the parser failed: before the file's answer (which was
    // then lost), or into the middle of its body
    const garbage = 'GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\nNOT A REQUEST\r\n\r\n';
    const reply = Buffer.from(await rawExchange(files.port, garbage), 'latin1');
    expect(responseStatuses(reply.toString('latin1'))).toEqual(['200', '400']);
    const start = reply.indexOf('\r\n\r\n') + 4;
    expect(reply.subarray(start, start + big.length).equals(big)).toBe(true);
    const dashboard = await rawExchange(dash.port, garbage.replace('/big.bin', '/livez'));
    expect(responseStatuses(dashboard)).toEqual(['200', '400']);
  });

  it('the parser stays strict under NODE_OPTIONS=--insecure-http-parser', async () => {
    const serve = await startServe(['http', 'serve', dir, '--port', '0'], 1, {
      env: { NODE_OPTIONS: '--insecure-http-parser' },
    });
    try {
      const port = serve.listening[0]!.port;
      for (const [name, request] of CASES.filter(([n]) =>
        /^(CL\.TE|TE\.CL|bare LF line ends|TE folded)/.test(n),
      ))
        expect(responseStatuses(await rawExchange(port, request)), name).toEqual(['400']);
    } finally {
      await serve.stop();
    }
  });
});
