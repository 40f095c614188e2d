// `npm run bench -- http-serve [--size-mib 512] [--runs 5]`
//
// Download rate of one file over one connection, `curl -k -o /dev/null`, from `netkit http serve
// DIR --tls-port` (the CLI, run through its launcher as a user runs it) and from Debian's nginx on
// the same file with the same certificate (the development one, ECDSA P-256), over HTTPS and over
// plain HTTP, alternating the servers in each round. Prints best and median MiB/s of each and the
// ratio netkit / nginx. No issue sets a target here; the figures are for information (nginx uses
// sendfile for plain HTTP, which no user-space server matches). See READ_CHUNK_BYTES in
// src/http/file-server.ts for what would raise it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './_net.mjs';
import { startNginx } from './_nginx.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'bin', 'netkit.cjs');
const MiB = 1024 * 1024;

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
}

async function makeFile(file, mib) {
  const fh = await open(file, 'w');
  const block = randomBytes(MiB);
  for (let i = 0; i < mib; i++) {
    block.writeUInt32LE(i, 0);
    await fh.write(block, 0, MiB, i * MiB);
  }
  await fh.close();
}

/** `netkit http serve` with a plain and a TLS port; resolves with both once it has announced them. */
function startNetkit(root, data) {
  const child = spawn(
    CLI,
    ['http', 'serve', root, '--port', '0', '--tls-port', '0', '--data', data, '--json'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    const ports = {};
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
        const rec = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        ports[rec.tls ? 'https' : 'http'] = rec.port;
      }
      if (ports.http && ports.https)
        resolve({
          ...ports,
          stop: () =>
            new Promise((r) => {
              child.once('close', r);
              child.kill('SIGTERM');
            }),
        });
    });
    child.once('error', reject);
    child.once('close', (code) => reject(new Error(`netkit http serve exited ${code}`)));
  });
}

/** MiB/s of one `curl -k` download. */
function curl(url) {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-k', '-o', '/dev/null', '-w', '%{speed_download}', url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Number(out) / MiB) : reject(new Error(`curl exited ${code}`)),
    );
  });
}

const best = (v) => Math.max(...v);
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export default async function (args) {
  const sizeMib = option(args, '--size-mib', 512);
  const runs = option(args, '--runs', 5);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-bench-serve-'));
  const root = path.join(tmp, 'root');
  const data = path.join(tmp, 'data');
  await mkdir(root);
  await makeFile(path.join(root, 'big.bin'), sizeMib);
  const ours = await startNetkit(root, data); // makes the development certificate in DATA/tls
  const sslPort = await freePort();
  const nginx = await startNginx({
    root,
    serverExtra: `listen 127.0.0.1:${sslPort} ssl; ssl_certificate ${data}/tls/dev-cert.pem;
      ssl_certificate_key ${data}/tls/dev-key.pem; ssl_protocols TLSv1.2 TLSv1.3;`,
  });
  const urls = {
    'netkit https': `https://127.0.0.1:${ours.https}/big.bin`,
    'nginx https': `https://127.0.0.1:${sslPort}/big.bin`,
    'netkit http': `http://127.0.0.1:${ours.http}/big.bin`,
    'nginx http': `${nginx.url}big.bin`,
  };
  const rates = Object.fromEntries(Object.keys(urls).map((k) => [k, []]));
  try {
    for (let i = 0; i < runs; i++) for (const [k, u] of Object.entries(urls)) rates[k].push(await curl(u));
  } finally {
    await ours.stop();
    await nginx.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  console.log(`one ${sizeMib} MiB file, one connection, curl -k, ${runs} runs each (MiB/s, best / median)`);
  for (const scheme of ['https', 'http']) {
    const a = rates[`netkit ${scheme}`];
    const b = rates[`nginx ${scheme}`];
    const target = scheme === 'https' ? '' : '  (nginx: sendfile)';
    console.log(
      `${scheme.padEnd(5)}  netkit ${best(a).toFixed(0)} / ${median(a).toFixed(0)}   nginx ${best(b).toFixed(0)} / ${median(b).toFixed(0)}   ratio ${(best(a) / best(b)).toFixed(2)} / ${(median(a) / median(b)).toFixed(2)}${target}`,
    );
  }
}
