import type { Command } from 'commander';
import { register as registerRequest } from './http-request.js';
import { register as registerServe } from './http-serve.js';

/** `netkit http METHOD URL` and `netkit http serve DIR`: in http-request.ts and http-serve.ts. */
export function register(program: Command): void {
  const http = program
    .command('http')
    .description('HTTP requests with cookie jars, and a static file server');
  registerServe(http);
  registerRequest(http);
}
