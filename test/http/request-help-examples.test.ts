/**
 * The examples in the help of `netkit http post|put|patch|delete` (and the cookie and `--retry`
 * ones of `http get`) are run, as printed, against the toy web app of the README (`demo-app.mjs`,
 * taken from docs/readme/http-client.md and started on a free port). They used to point at
 * 127.0.0.1:8080, the lab's file server, which answers 405 to every one of them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, netkit, ROOT, run, tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;
let app: ChildProcess;
/** the port the README's demo app listens on */
let readmePort: string;
/** where the test's copy of it listens */
let port: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-help-examples-'));
  const chapter = await readFile(path.join(ROOT, 'docs/readme/http-client.md'), 'utf8');
  const code = /```js\n(\/\/ demo-app\.mjs[\s\S]*?)```/.exec(chapter)?.[1];
  expect(code, 'the demo app in docs/readme/http-client.md').toBeDefined();
  const listen = /\.listen\((\d+), '127\.0\.0\.1'\)/.exec(code!);
  expect(listen, 'its listen(PORT, "127.0.0.1")').not.toBeNull();
  readmePort = listen![1]!;
  const file = path.join(dir, 'demo-app.mjs');
  await writeFile(
    file,
    code!.replace(listen![0], ".listen(0, '127.0.0.1', function () { console.log(this.address().port); })"),
  );
  app = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<string>((resolve, reject) => {
    app.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    app.once('exit', (c) => reject(new Error(`demo app exited ${c}`)));
  });
  await writeFile(path.join(dir, 'report.csv'), 'a,b\n1,2\n');
});
afterAll(async () => {
  app?.kill();
  await cleanup?.();
});

/** The example commands of a help text, as a shell would read them (comments and `\` joins done). */
function examples(help: string): string[] {
  const section = help.split('\nExamples:\n')[1] ?? '';
  const commands: string[] = [];
  let joining = false;
  for (const raw of section.split('\n')) {
    const line = raw.trim();
    if (joining) commands[commands.length - 1] += ` ${line}`;
    else if (line.startsWith('$ ')) commands.push(line.slice(2));
    else continue;
    joining = commands.at(-1)!.endsWith('\\');
    if (joining) commands[commands.length - 1] = commands.at(-1)!.slice(0, -1).trimEnd();
  }
  // an example's comment follows two spaces (outside quotes)
  return commands.map((c) => c.replace(/^((?:[^'" ]|'[^']*'|"[^"]*"| (?! ))*) {2,}.*$/, '$1'));
}

const urls = (command: string) => command.match(/https?:\/\/[^\s'"]+/g) ?? [];

describe('http request help examples', () => {
  it('post, put, patch and delete: every example talks to the README demo app, and works there', async () => {
    for (const method of ['post', 'put', 'patch', 'delete']) {
      const help = await netkit(['http', method, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('demo-app.mjs');
      const commands = examples(help.stdout);
      expect(commands.length, method).toBeGreaterThan(0);
      for (const command of commands) {
        for (const url of urls(command)) expect(url, command).toMatch(`http://127.0.0.1:${readmePort}/`);
        // run it as printed, against our copy of the app: the app echoes a request as JSON, or
        // answers the login; a file server would answer 405 Method Not Allowed
        const shell = command
          .replace(/^netkit /, `"${process.execPath}" "${CLI}" `)
          .replaceAll(`127.0.0.1:${readmePort}`, `127.0.0.1:${port}`);
        const r = await run('sh', ['-c', shell], { cwd: dir, env: { NETKIT_PASSWORD: 'pw' } });
        expect(r.code, `${command}: ${r.stderr}`).toBe(0);
        expect(r.stdout, command).toMatch(/"method":"(POST|PUT|PATCH|DELETE)"|^welcome bob|^200/m);
        expect(r.stdout).not.toMatch(/Method Not Allowed/);
      }
    }
  });

  it('the login, then the page behind it, as the examples of post and get show them', async () => {
    const post = examples((await netkit(['http', 'post', '--help'])).stdout);
    const get = examples((await netkit(['http', 'get', '--help'])).stdout);
    const login = post.find((c) => c.includes('/login'));
    const home = get.find((c) => c.includes('/home'));
    const busy = get.find((c) => c.includes('/busy'));
    for (const c of [login, home, busy]) {
      expect(c).toBeDefined();
      for (const url of urls(c!)) expect(url, c).toMatch(`http://127.0.0.1:${readmePort}/`);
    }
    const sh = (command: string) =>
      run(
        'sh',
        [
          '-c',
          command
            .replace(/^netkit /, `"${process.execPath}" "${CLI}" `)
            .replaceAll(`127.0.0.1:${readmePort}`, `127.0.0.1:${port}`),
        ],
        { cwd: dir },
      );
    expect((await sh(login!)).stdout).toBe('welcome bob\n');
    // --trace writes to stderr: the body is the page, for the user the login made
    expect((await sh(home!)).stdout).toBe('welcome bob\n');
    // the demo app answers /busy 503 twice, then 200: --retry gets through
    expect((await sh(busy!)).stdout).toBe('{"ok":true}');
  });
});
