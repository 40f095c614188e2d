/**
 * The FTP client against fake servers that misbehave as real ones do: a PASV address other than
 * the one connected to (NAT, masquerade), a download cut off with the control connection, AUTH TLS
 * accepted but PROT P refused, a certificate for another name, the SNI name on control and data
 * connections, a failed login for `bob@x`, a listing cut short, a download longer than the server's
 * own SIZE reply.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { FtpClient, toFtpClientError } from '../../src/ftp/client.js';
import { rewritePasvReply } from '../../src/ftp/client-passive.js';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, writeTree } from './client-helpers.js';
import { fakeFtp } from './fake-ftp.js';

let base: string;
let cleanup: () => Promise<void>;
let cert: { cert: string; key: string };

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-fake-'));
  cert = await generateDevCertificate();
});
afterAll(async () => {
  await cleanup?.();
});

describe('PASV announcing another address', () => {
  it('rewrites only the address of a PASV reply', () => {
    expect(rewritePasvReply('227 Entering Passive Mode (10,9,9,9,195,80).', '127.0.0.1')).toEqual({
      message: '227 Entering Passive Mode (127,0,0,1,195,80).',
      announced: '10.9.9.9',
    });
    expect(rewritePasvReply('227 =10,9,9,9,1,2', '192.0.2.7').message).toBe('227 =192,0,2,7,1,2');
  });

  it('connects to the control connection address instead, and says so in the trace', async () => {
    const srv = await fakeFtp({ epsv: false, pasvHost: '10.9.9.9' });
    try {
      const r = await netkit(['ftp', 'ls', `ftp://127.0.0.1:${srv.port}/`, '--trace', '--timeout', '5s']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('x.txt\n');
      expect(r.stderr).toMatch(
        /PASV announced 10\.9\.9\.9; connecting to the control connection's address 127\.0\.0\.1 instead/,
      );
      expect(srv.dataConnections).toEqual(['127.0.0.1']);
    } finally {
      await srv.close();
    }
  });
});

describe('a server that only does active mode', () => {
  it('fails in passive mode with a pointer to --active, and works with it', async () => {
    const srv = await fakeFtp({ files: { 'f.bin': pattern(50_000, 44) }, epsv: false, pasv: false });
    try {
      const url = `ftp://127.0.0.1:${srv.port}/f.bin`;
      const passive = await netkit(['ftp', 'get', url, '-o', '-', '--quiet']);
      expect(passive.code).toBe(1);
      expect(passive.stderr).toMatch(
        /^netkit: get f\.bin: no passive data connection \(EPSV and PASV failed: .*502 PASV not implemented.*\); active mode \(--active\) may work\n$/,
      );
      const active = await netkit(['ftp', 'get', url, '-o', '-', '--quiet', '--active']);
      expect(active.code, active.stderr).toBe(0);
      expect(active.stdoutBuf.equals(pattern(50_000, 44))).toBe(true);
    } finally {
      await srv.close();
    }
  });
});

describe('a download cut off by the server', () => {
  it('keeps every byte received in FILE.part and says how to resume', async () => {
    const body = pattern(1_000_000, 41);
    const srv = await fakeFtp({ files: { 'f.bin': body }, cut: { name: 'f.bin', cutAt: 300_000 } });
    try {
      const out = path.join(base, 'cut.bin');
      const r = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/f.bin`, '-o', out, '--quiet']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^netkit: get f\.bin: .*; \S*cut\.bin\.part kept \(300000 of 1000000 bytes\), resume with --continue\n$/,
      );
      const part = await readFile(`${out}.part`);
      expect(part.length).toBe(300_000);
      expect(part.equals(body.subarray(0, 300_000))).toBe(true);
      await expect(stat(out)).rejects.toThrow();
    } finally {
      await srv.close();
    }
  });

  it('a server that sends more than its SIZE announced is stopped there: the disk is not filled', async () => {
    const body = pattern(2_000_000, 42);
    const srv = await fakeFtp({ files: { 'f.bin': body }, sizes: { 'f.bin': 100_000 } });
    try {
      const out = path.join(base, 'over.bin');
      const r = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/f.bin`, '-o', out, '--quiet']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^netkit: get f\.bin: the server sent more than the 100000 bytes its SIZE reply announced; transfer stopped; \S*over\.bin\.part kept \(\d+ of 100000 bytes\), resume with --continue\n$/,
      );
      const part = await readFile(`${out}.part`);
      expect(part.length).toBeLessThanOrEqual(100_000);
      expect(part.equals(body.subarray(0, part.length))).toBe(true);
      await expect(stat(out)).rejects.toThrow();
      // to stdout as well: never more than SIZE bytes written
      const cat = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/f.bin`, '-o', '-', '--quiet']);
      expect(cat.code).toBe(1);
      expect(cat.stderr).toMatch(/the server sent more than the 100000 bytes its SIZE reply announced/);
      expect(cat.stdoutBuf.length).toBeLessThanOrEqual(100_000);
    } finally {
      await srv.close();
    }
  });

  it('--max-filesize: refused by SIZE before RETR; without SIZE, stopped at the limit', async () => {
    const body = pattern(2_000_000, 43);
    const srv = await fakeFtp({ files: { 'f.bin': body, 'nosize.bin': body }, sizes: { 'nosize.bin': -1 } });
    try {
      const url = `ftp://127.0.0.1:${srv.port}`;
      const out = path.join(base, 'max.bin');
      const r = await netkit(['ftp', 'get', `${url}/f.bin`, '-o', out, '--max-filesize', '100K']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'netkit: the file is larger than --max-filesize 102400 bytes (the server announced 2000000)\n',
      );
      expect(srv.commands.some((c) => c.startsWith('RETR'))).toBe(false);
      await expect(stat(`${out}.part`)).rejects.toThrow();
      const blind = await netkit([
        'ftp',
        'get',
        `${url}/nosize.bin`,
        '-o',
        out,
        '--max-filesize',
        '100K',
        '--quiet',
      ]);
      expect(blind.code).toBe(1);
      expect(blind.stderr).toMatch(
        /the file is larger than --max-filesize 102400 bytes \(it kept coming past that\)/,
      );
      const part = await readFile(`${out}.part`);
      expect(part.length).toBeLessThanOrEqual(102_400);
      expect(part.equals(body.subarray(0, part.length))).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('a missing file leaves no part file behind', async () => {
    const srv = await fakeFtp({ files: {} });
    try {
      const out = path.join(base, 'none.bin');
      const r = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/none.bin`, '-o', out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('netkit: get none.bin: 550 Failed to open file.\n');
      await expect(stat(`${out}.part`)).rejects.toThrow();
    } finally {
      await srv.close();
    }
  });
});

describe('SNI', () => {
  it('sends the host name as SNI on the control connection and on each PROT P data connection', async () => {
    const srv = await fakeFtp({ tls: cert });
    try {
      const client = await FtpClient.connect({
        host: 'localhost',
        port: srv.port,
        tls: 'explicit',
        ca: [cert.cert],
      });
      try {
        expect((await client.list('/')).map((f) => f.name)).toEqual(['x.txt']);
      } finally {
        client.close();
      }
      expect(srv.servernames).toEqual(['localhost', 'localhost']);
    } finally {
      await srv.close();
    }
  });
});

describe('TLS errors say what failed', () => {
  it('a refused PROT P is reported as such before any transfer', async () => {
    const srv = await fakeFtp({ tls: cert, prot: '534 Request denied for policy reasons.' });
    try {
      const r = await netkit(['ftp', 'ls', `ftp://127.0.0.1:${srv.port}/`, '--tls', '--insecure']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `netkit: connect 127.0.0.1:${srv.port}: the server refused PROT P, encrypted data connections (534 Request denied for policy reasons.)\n`,
      );
      expect(srv.commands.some((c) => /^(EPSV|PASV|LIST|MLSD)/.test(c))).toBe(false);
    } finally {
      await srv.close();
    }
  });

  it('a refused AUTH TLS is not a failed login', async () => {
    const srv = await fakeFtp();
    try {
      const r = await netkit(['ftp', 'ls', `ftp://127.0.0.1:${srv.port}/`, '--tls']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `netkit: connect 127.0.0.1:${srv.port}: the server does not offer TLS (AUTH TLS refused: 530 Please login with USER and PASS.)\n`,
      );
    } finally {
      await srv.close();
    }
  });

  it('a certificate for another name: the name does not match, and no --ca hint', async () => {
    // the dev certificate names localhost, 127.0.0.1 and ::1; 127.0.0.2 is loopback too
    const srv = await fakeFtp({ host: '127.0.0.2', tls: cert });
    try {
      const err = await FtpClient.connect({
        host: '127.0.0.2',
        port: srv.port,
        tls: 'explicit',
        ca: [cert.cert],
      })
        .then((c) => c.close())
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /^TLS certificate of 127\.0\.0\.2:\d+ is for another name \(IP: 127\.0\.0\.2 is not in the cert's list: .*\); connect with a name it carries, or skip verification with --insecure$/,
      );
      expect((err as Error).message).not.toContain('--ca');
    } finally {
      await srv.close();
    }
    // the same from Node's own check
    const idErr = tls.checkServerIdentity('ftp.example.org', {
      subject: { CN: 'evil.example' },
      subjectaltname: 'DNS:evil.example',
    } as unknown as tls.PeerCertificate);
    expect(toFtpClientError(idErr, 'connect').message).toMatch(
      /^connect: TLS certificate of ftp\.example\.org is for another name \(Host: ftp\.example\.org\. is not in the cert's altnames: DNS:evil\.example\); connect with a name it carries/,
    );
  });
});

it('a failed login for user bob@x quotes the user', async () => {
  const srv = await fakeFtp({ badUsers: ['bob@x'] });
  try {
    const r = await netkit(['ftp', 'ls', `ftp://bob%40x:wrong@127.0.0.1:${srv.port}/`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `netkit: login failed for user "bob@x" at 127.0.0.1:${srv.port}: 530 Login incorrect.\n`,
    );
  } finally {
    await srv.close();
  }
});

it('a resume conflict exits 1, not the usage code 2', async () => {
  const srv = await fakeFtp({ files: { 's.bin': pattern(10, 1) } });
  try {
    const out = path.join(base, 'conflict.bin');
    await import('node:fs/promises').then((fs) => fs.writeFile(out, pattern(20, 1)));
    const r = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/s.bin`, '-o', out, '--continue']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is larger than the server's file \(10 bytes\); cannot resume/);
  } finally {
    await srv.close();
  }
});

describe('a listing the server cut short (pure-ftpd: "226 Output truncated to 10000 matches")', () => {
  it('ls fails with the reply instead of printing part of the directory', async () => {
    const srv = await fakeFtp({ listDone: '226-Options: -a -l\r\n226 Output truncated to 1 matches' });
    try {
      const r = await netkit(['ftp', 'ls', `ftp://127.0.0.1:${srv.port}/pub/`]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        'netkit: list pub/: the server sent only part of the listing (226-Options: -a -l 226 Output truncated to 1 matches)\n',
      );
    } finally {
      await srv.close();
    }
  });

  it('mirror --delete deletes nothing local that the server did not list', async () => {
    const srv = await fakeFtp({ listDone: '226 Output truncated to 1 matches' });
    const local = path.join(base, 'truncated');
    await writeTree(local, { 'x.txt': 'x\n', 'y.txt': 'on the server too, past the cut\n' });
    try {
      const r = await netkit(['ftp', 'mirror', `ftp://127.0.0.1:${srv.port}/pub/`, local, '--delete']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^netkit: list pub: the server sent only part of the listing \(226 Output/);
      expect((await readdir(local)).sort()).toEqual(['x.txt', 'y.txt']);
    } finally {
      await srv.close();
    }
  });
});
