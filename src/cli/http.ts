import type { Command } from 'commander';
import { register as registerRequest } from './http-request.js';
import { register as registerServe } from './http-serve.js';

/** `netkit http METHOD URL` and `netkit http serve DIR`: in http-request.ts and http-serve.ts. */
export function register(program: Command): void {
  const http = program
    .command('http')
    .description('HTTP requests with cookie jars, and a static file server')
    .addHelpText(
      'after',
      `
127.0.0.1:8080 is the file server of the first example; 127.0.0.1:8000 the toy
web app of the README (demo-app.mjs: it echoes requests, has a cookie login).

Examples:
  $ netkit http serve ./public --port 8080       static files, Range, listings
  $ netkit http get http://127.0.0.1:8080/ -i    status line, headers, body
  $ netkit http head http://127.0.0.1:8080/big.iso
  $ netkit download http://127.0.0.1:8080/big.iso -c 8   several connections
  $ netkit http post http://127.0.0.1:8000/login --form user=bob \\
      --form password=secret -c jar.txt`,
    );
  registerServe(http);
  registerRequest(http);
}
