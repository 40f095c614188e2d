/**
 * `netkit lab` in tests: every port at 0 (any free port), as command-line flags for the CLI and as
 * a config for `startLab`, derived from the lab's own table so that a new port is never left on its
 * fixed default.
 */
import { DEFAULT_LAB_PORTS, type LabPortName, PORT_FLAGS } from '../../src/lab/config.js';
import { CLASSIC_SERVICES } from '../../src/sockets/classic.js';

export const LAB_ANY_PORT_FLAGS: string[] = Object.values(PORT_FLAGS).flatMap((f) => [f, '0']);

export const LAB_ANY_PORTS = Object.fromEntries(Object.keys(DEFAULT_LAB_PORTS).map((k) => [k, 0])) as Record<
  LabPortName,
  number
>;

/**
 * The sockets `netkit lab --json` announces: the dashboard, SMTP, SMTPS, POP3, POP3S, FTP, FTPS,
 * chat, chat over TLS, HTTP and HTTPS, and each classic service over TCP and UDP.
 */
export const LAB_SOCKETS = 11 + 2 * CLASSIC_SERVICES.length;
