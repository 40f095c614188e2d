/**
 * The `services` section of `netkit.config.json`: the limits and policies of each lab service that
 * a user may set (message size, recipients, connections, line length, timeouts, rates…), as the
 * `serve` commands' flags set them for one service. Only the options listed here pass: what the lab
 * itself decides (addresses, ports, TLS, data directory, accounts) cannot be overridden, and a typo
 * or a value of the wrong type is an error instead of a silently ignored setting.
 */
import { NetkitError } from '../core/errors.js';
import type { FtpServerOptions } from '../ftp/server.js';
import type { FtpLimits } from '../ftp/session.js';
import type { FileServerOptions } from '../http/file-server.js';
import type { Pop3ServerOptions } from '../mail/pop3-server.js';
import type { SmtpServerOptions } from '../mail/smtp-server.js';
import type { ChatServerOptions } from '../sockets/chat-server.js';

/**
 * `count`: a whole number ≥ 1; `whole`: a whole number ≥ 0 (0 means what the option's library
 * documentation says: none, off or unlimited); `flag`: true or false.
 */
type Kind = 'count' | 'whole' | 'flag' | 'bareLineEndings';

/** Options of a server's own options type only: a renamed server option fails to compile here. */
type KindsOf<T> = { [K in keyof T]?: Kind };

const SMTP = {
  maxSize: 'count',
  maxRecipients: 'count',
  maxMailboxes: 'whole',
  maxClients: 'count',
  maxClientsPerIp: 'count',
  maxLineLength: 'count',
  socketTimeout: 'count',
  strict: 'flag',
  requireAuth: 'flag',
  authFailureDelay: 'whole',
  greetingDelay: 'whole',
  bareLineEndings: 'bareLineEndings',
  minFreeBytes: 'whole',
} as const satisfies KindsOf<SmtpServerOptions>;

const POP3 = {
  maxConnections: 'count',
  maxConnectionsPerIp: 'count',
  maxLineLength: 'count',
  maxOutboundBytes: 'count',
  maxBadCommands: 'count',
  maxAuthFailures: 'count',
  failedLoginDelayMs: 'whole',
  idleTimeoutMs: 'whole',
  markSeen: 'flag',
} as const satisfies KindsOf<Pop3ServerOptions>;

const FTP = {
  maxClients: 'count',
  maxClientsPerIp: 'count',
  maxLoginFailures: 'count',
  loginFailureDelayMs: 'whole',
  lockoutMs: 'whole',
  anonymous: 'flag',
  anonymousUpload: 'flag',
  guestOverwrite: 'flag',
} as const satisfies KindsOf<FtpServerOptions>;

/** FTP options the server takes inside its `limits` object; the config file lists them flat. */
const FTP_LIMITS = {
  maxLineLength: 'count',
  maxOutboundBytes: 'count',
  maxBadCommands: 'count',
  idleTimeoutMs: 'count',
  dataConnectTimeoutMs: 'count',
  dataIdleTimeoutMs: 'count',
  maxUploadBytes: 'whole',
  minFreeBytes: 'whole',
  downloadRate: 'whole',
  uploadRate: 'whole',
  anonymousRate: 'whole',
} as const satisfies KindsOf<FtpLimits>;

const CHAT = {
  maxClients: 'count',
  maxClientsPerIp: 'count',
  maxLineLength: 'count',
  idleTimeoutMs: 'whole',
  maxOutboundBytes: 'count',
  historySize: 'whole',
  maxRooms: 'count',
} as const satisfies KindsOf<ChatServerOptions>;

const HTTP = {
  rateLimit: 'whole',
  noRange: 'flag',
  listings: 'flag',
  maxRanges: 'count',
  maxListingEntries: 'count',
  maxPipelined: 'count',
  maxConnections: 'count',
  maxConnectionsPerIp: 'count',
  keepAliveTimeoutMs: 'count',
  idleTimeoutMs: 'count',
  headersTimeoutMs: 'count',
} as const satisfies KindsOf<FileServerOptions>;

const SERVICES = {
  smtp: SMTP,
  pop3: POP3,
  ftp: { ...FTP, ...FTP_LIMITS },
  chat: CHAT,
  http: HTTP,
} as const;

type Options<T extends Record<string, Kind>> = {
  [K in keyof T]?: T[K] extends 'flag'
    ? boolean
    : T[K] extends 'bareLineEndings'
      ? 'reject' | 'normalise'
      : number;
};

/** What `services` in `netkit.config.json` may hold, per service. */
export interface LabServiceOptions {
  /** the SMTP server */
  smtp?: Options<typeof SMTP>;
  /** the POP3 server */
  pop3?: Options<typeof POP3>;
  /** the FTP server, its limits included */
  ftp?: Options<typeof FTP> & Options<typeof FTP_LIMITS>;
  /** the chat server */
  chat?: Options<typeof CHAT>;
  /** the HTTP file server */
  http?: Options<typeof HTTP>;
}

function checkValue(kind: Kind, value: unknown, where: string): void {
  const ok =
    kind === 'flag'
      ? typeof value === 'boolean'
      : kind === 'bareLineEndings'
        ? value === 'reject' || value === 'normalise'
        : Number.isSafeInteger(value) && (value as number) >= (kind === 'count' ? 1 : 0);
  if (ok) return;
  const expected = {
    flag: 'true or false',
    bareLineEndings: '"reject" or "normalise"',
    count: 'a whole number above 0',
    whole: 'a whole number (0 or more)',
  }[kind];
  throw new NetkitError('NETKIT_USAGE', `${where} must be ${expected}, not ${JSON.stringify(value)}`);
}

/** Validate the `services` value of the config file; `file` names it in errors. */
export function serviceOptionsFromFile(data: unknown, file = 'netkit.config.json'): LabServiceOptions {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new NetkitError('NETKIT_USAGE', `${file}: "services" must be an object`);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [service, options] of Object.entries(data)) {
    const known = (SERVICES as Record<string, Record<string, Kind>>)[service];
    if (!known)
      throw new NetkitError(
        'NETKIT_USAGE',
        `${file}: unknown service "${service}" in "services" (known: ${Object.keys(SERVICES).join(', ')})`,
      );
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new NetkitError('NETKIT_USAGE', `${file}: services.${service} must be an object`);
    for (const [key, value] of Object.entries(options)) {
      const kind = known[key];
      if (!kind)
        throw new NetkitError(
          'NETKIT_USAGE',
          `${file}: services.${service} has no option "${key}" (known: ${Object.keys(known).join(', ')})`,
        );
      checkValue(kind, value, `${file}: services.${service}.${key}`);
    }
    out[service] = { ...options };
  }
  return out as LabServiceOptions;
}

/** The FTP section split as `createFtpServer` takes it: its own options and its `limits`. */
export function ftpServiceOptions(options: LabServiceOptions['ftp'] = {}): {
  server: Options<typeof FTP>;
  limits: Options<typeof FTP_LIMITS>;
} {
  const server: Record<string, unknown> = {};
  const limits: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) (key in FTP_LIMITS ? limits : server)[key] = value;
  return { server, limits };
}
