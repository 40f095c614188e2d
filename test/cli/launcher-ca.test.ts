// NODE_EXTRA_CA_CERTS through the `netkit` launcher: the shell part of bin/netkit.cjs keeps the file
// out of Node's start-up, and netkit adds its certificates on the first TLS handshake instead.
// The launcher is executed as a user's shell runs it (the file itself, not `node FILE`).
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { VERSION } from '../../src/version.js';
import { CLI, run, tempDir } from '../helpers/net.js';

const launch = (args: string[], env: NodeJS.ProcessEnv) => run(CLI, args, { env });

describe('the launcher and NODE_EXTRA_CA_CERTS', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: https.Server;
  let url: string;
  let bundle: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('launcher-ca-'));
    const { cert, key } = await generateDevCertificate();
    server = https.createServer({ cert, key }, (_req, res) => res.end('secure hello\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    // a bundle like the system's: a well-known root first, then the one that signed the server
    bundle = path.join(dir, 'extra.pem');
    await writeFile(bundle, `${tls.rootCertificates[0]}\n${cert}\n`);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await cleanup();
  });

  it('keeps the file out of start-up: an unreadable one is not even opened by --version', async () => {
    const env = { NODE_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') };
    const viaLauncher = await launch(['--version'], env);
    expect(viaLauncher).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    // Node itself reads it while starting: the warning shows what the launcher avoids
    const viaNode = await run(process.execPath, [CLI, '--version'], { env });
    expect(viaNode.stderr).toContain('Ignoring extra certs');
  });

  it('trusts the certificates in the file on the first TLS connection', async () => {
    const ok = await launch(['http', 'get', url], { NODE_EXTRA_CA_CERTS: bundle });
    expect(ok).toMatchObject({ code: 0, stdout: 'secure hello\n', stderr: '' });
    const without = await launch(['http', 'get', url], { NODE_EXTRA_CA_CERTS: undefined });
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/not trusted/);
  });

  it('the downloader trusts them too', async () => {
    const out = path.join(dir, 'got.txt');
    const r = await launch(['download', '--quiet', '-o', out, url], { NODE_EXTRA_CA_CERTS: bundle });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('secure hello\n');
  });

  it("warns once, in Node's words, when the file cannot be read, and keeps the default roots", async () => {
    const r = await launch(['http', 'get', url], { NODE_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Warning: Ignoring extra certs from `.*missing\.pem`, load failed: ENOENT/);
    expect(lines[1]).toMatch(/not trusted/);
  });

  it('hands node its arguments as given, the deferred file and a heap trim threshold', async () => {
    // a stand-in `node` first on PATH shows exactly what the shell line executes
    const bin = path.join(dir, 'fake-bin');
    await mkdir(bin);
    const fake = path.join(bin, 'node');
    await writeFile(
      fake,
      [
        '#!/bin/sh',
        'printf \'%s|\' "$@"; echo',
        'extra=unset; [ -n "$NODE_EXTRA_CA_CERTS" ] && extra=$NODE_EXTRA_CA_CERTS',
        'echo "extra=$extra deferred=$NETKIT_DEFERRED_CA_CERTS trim=$MALLOC_TRIM_THRESHOLD_"',
        '',
      ].join('\n'),
    );
    await chmod(fake, 0o755);
    const PATH = `${bin}:${process.env.PATH}`;
    const args = ['http', 'get', 'a b', "it's", '$HOME'];
    const r = await launch(args, { PATH, NODE_EXTRA_CA_CERTS: bundle });
    expect(r.stdout).toBe(`${[CLI, ...args].join('|')}|\nextra=unset deferred=${bundle} trim=268435456\n`);
    const plain = await launch(['ip'], {
      PATH,
      NODE_EXTRA_CA_CERTS: undefined,
      MALLOC_TRIM_THRESHOLD_: '4096',
    });
    expect(plain.stdout).toBe(`${CLI}|ip|\nextra=unset deferred= trim=4096\n`);
  });

  it('is a shell script for the shell and plain JavaScript for node', () => {
    const [shebang, shellLine, strict] = readFileSync(CLI, 'utf8').split('\n');
    expect(shebang).toBe('#!/bin/sh');
    expect(shellLine).toMatch(/^':' \/\/; /);
    expect(strict).toBe("'use strict';");
  });
});
