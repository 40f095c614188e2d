/** curl's -w grammar (src/http/write-out.ts): variables, escapes, switches, JSON, @FILE formats. */
import { describe, expect, it } from 'vitest';
import {
  formatWriteOut,
  headerBytes,
  headerJson,
  WRITE_OUT_VARIABLES,
  type WriteOutInfo,
  writeOutFormatFromFile,
  writeOutJson,
} from '../../src/http/write-out.js';

const info: WriteOutInfo = {
  url: 'http://127.0.0.1:8080/r',
  urlEffective: 'http://127.0.0.1:8080/file',
  method: 'GET',
  responseCode: 200,
  httpVersion: '1.1',
  headers: [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Set-Cookie', 'a=1'],
    ['set-cookie', 'b=2'],
    ['X-Quote', 'say "hi"\\'],
  ],
  numRedirects: 1,
  referer: 'http://start/',
  sizeDownload: 1000,
  sizeHeader: 277,
  sizeRequest: 168,
  sizeUpload: 0,
  numConnects: 1,
  remoteIp: '127.0.0.1',
  remotePort: 8080,
  localIp: '127.0.0.1',
  localPort: 40000,
  timeNamelookup: 0.000012,
  timeConnect: 0.0001234567,
  timeAppconnect: 0,
  timePretransfer: 0.0002,
  timeStarttransfer: 0.0015,
  timeRedirect: 0.001,
  timeTotal: 0.5,
  exitcode: 0,
  filenameEffective: 'out.bin',
  version: 'netkit/0.1.0',
};

const text = (format: string, over: Partial<WriteOutInfo> = {}) =>
  formatWriteOut(format, { ...info, ...over })
    .pieces.map((p) => p.text)
    .join('');

describe('formatWriteOut', () => {
  it.each([
    ['%{http_code}', '200'],
    ['%{response_code}', '200'],
    ['%{HTTP_CODE}', '200'], // names are matched without regard to case, as in curl
    ['%{http_version}', '1.1'],
    ['%{size_download} %{size_header} %{size_request} %{size_upload}', '1000 277 168 0'],
    ['%{num_redirects} %{num_connects} %{num_headers}', '1 1 4'],
    ['%{url} %{url_effective}', 'http://127.0.0.1:8080/r http://127.0.0.1:8080/file'],
    ['%{content_type}', 'text/plain; charset=utf-8'],
    ['%{remote_ip}:%{remote_port} %{local_ip}:%{local_port}', '127.0.0.1:8080 127.0.0.1:40000'],
    ['%{time_total}', '0.500000'],
    ['%{time_connect}', '0.000123'],
    ['%{time_namelookup} %{time_appconnect}', '0.000012 0.000000'],
    ['%{speed_download}', '2000'],
    ['%{exitcode} [%{errormsg}]', '0 []'],
    ['%{filename_effective}', 'out.bin'],
    ['%{method} %{scheme} %{referer} %{urlnum}', 'GET HTTP http://start/ 0'],
    ['%header{content-type}', 'text/plain; charset=utf-8'],
    ['%header{SET-COOKIE}', 'a=1'], // the first one, as curl_easy_header index 0
    ['[%header{x-missing}]', '[]'],
    ['%%{http_code}', '%{http_code}'],
    ['100%', '100%'],
    ['%z %', '%z %'],
    ['a\\nb\\tc\\rd', 'a\nb\tc\rd'],
    ['\\q\\\\', '\\q\\\\'],
    ['trailing \\', 'trailing \\'],
    ['%{http_code', '%{http_code'],
    ['%header{open', '%header{open'],
    // curl reads %{header{x}} as the unknown variable "header{x" and then a literal "}"
    ['%{header{content-type}}', '}'],
  ])('%s → %j', (format, expected) => {
    expect(text(format)).toBe(expected);
  });

  it('pads the status to three digits and says 0 without a response, as curl', () => {
    expect(text('%{http_code} %{http_version}', { responseCode: 0, httpVersion: '0' })).toBe('000 0');
    expect(text('%{scheme}', { responseCode: 0 })).toBe('');
  });

  it('warns about unknown variables and prints nothing for them', () => {
    const r = formatWriteOut('a%{bogus}b%{Nope}', info);
    expect(r.pieces).toEqual([{ stream: 'stdout', text: 'ab' }]);
    expect(r.warnings).toEqual([
      "unknown --write-out variable: 'bogus'",
      "unknown --write-out variable: 'Nope'",
    ]);
  });

  it('switches between stdout and stderr', () => {
    expect(formatWriteOut('a%{stderr}b%{stdout}c%{stderr}', info).pieces).toEqual([
      { stream: 'stdout', text: 'a' },
      { stream: 'stderr', text: 'b' },
      { stream: 'stdout', text: 'c' },
    ]);
  });

  it('%{onerror} drops the rest of a successful transfer only', () => {
    expect(text('done%{onerror} failed: %{errormsg}')).toBe('done');
    expect(text('done%{onerror} failed: %{errormsg}', { exitcode: 1, errormsg: 'refused' })).toBe(
      'done failed: refused',
    );
  });

  it('%{json} has every variable, times with six decimals, absent values as null', () => {
    const json = writeOutJson({ ...info, referer: undefined, filenameEffective: undefined });
    expect(json).toContain('"time_total":0.500000,');
    expect(json).toContain('"http_code":200,');
    expect(json).toContain('"referer":null,');
    const parsed = JSON.parse(json);
    expect(parsed).toMatchObject({
      content_type: 'text/plain; charset=utf-8',
      errormsg: null,
      filename_effective: null,
      http_version: '1.1',
      num_headers: 4,
      url_effective: 'http://127.0.0.1:8080/file',
      netkit_version: 'netkit/0.1.0',
    });
    // curl's order: alphabetical, the version last
    const keys = Object.keys(parsed);
    expect(keys.slice(0, -1)).toEqual([...keys.slice(0, -1)].sort());
    for (const v of WRITE_OUT_VARIABLES)
      if (!['stdout', 'stderr', 'onerror', 'json', 'header_json'].includes(v)) expect(keys).toContain(v);
    expect(text('%{json}')).toBe(writeOutJson(info));
  });

  it('%{header_json} groups values by lower-case name, as curl lays it out', () => {
    expect(headerJson(info.headers)).toBe(
      '{"content-type":["text/plain; charset=utf-8"],\n"set-cookie":["a=1","b=2"],\n"x-quote":["say \\"hi\\"\\\\"]\n}',
    );
    expect(JSON.parse(text('%{header_json}'))['set-cookie']).toEqual(['a=1', 'b=2']);
  });
});

describe('writeOutFormatFromFile (-w @FILE)', () => {
  it.each([
    ['%{http_code}\n', '%{http_code}'],
    ['%{http_code}\\n\n', '%{http_code}\\n'],
    ['a\r\nb\n', 'ab'],
    ['a\rjunk\nb', 'ab'],
    ['', ''],
  ])('%j → %j', (file, format) => {
    expect(writeOutFormatFromFile(file)).toBe(format);
  });
});

describe('headerBytes', () => {
  it('counts the status line and headers with CRLF ends and the blank line', () => {
    const h = {
      httpVersion: '1.1',
      status: 200,
      statusText: 'OK',
      rawHeaders: [['Content-Length', '5']] as Array<[string, string]>,
    };
    expect(headerBytes(h)).toBe(Buffer.byteLength('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'));
    expect(headerBytes({ ...h, statusText: '', rawHeaders: [] })).toBe('HTTP/1.1 200\r\n\r\n'.length);
    // header values are bytes (Latin-1 strings): one byte each
    expect(headerBytes({ ...h, rawHeaders: [['X', '\xc3\xbc']] })).toBe(
      'HTTP/1.1 200 OK\r\nX: \xc3\xbc\r\n\r\n'.length,
    );
  });
});
