/**
 * Debian nginx as a test peer: started unprivileged on a free port with a config in a temp dir.
 * The implementation lives in bench/_nginx.mjs so the download benchmark drives nginx the same way.
 */
export { type NginxHandle, startNginx } from '../../bench/_nginx.mjs';
