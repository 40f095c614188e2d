/**
 * The lab's configuration, merged from (lowest to highest precedence) the defaults of
 * `shared/PRODUCT.md`, a `netkit.config.json` file, `NETKIT_*` environment variables, and command
 * line flags. Pure: the CLI reads the file and the environment and hands them in.
 */
import { isLoopback } from '../core/address.js';
import { NetkitError } from '../core/errors.js';
import { type LabServiceOptions, serviceOptionsFromFile } from './service-options.js';

export const DEFAULT_LAB_PORTS = {
  ui: 8025,
  smtp: 2525,
  smtpTls: 4650,
  pop3: 1110,
  pop3Tls: 1995,
  ftp: 2121,
  ftpTls: 9900,
  chat: 7070,
  chatTls: 7443,
  http: 8080,
  https: 8443,
  classicBase: 7000,
} as const;

export type LabPortName = keyof typeof DEFAULT_LAB_PORTS;

/** The flag that sets each port, for the "port taken" error. */
export const PORT_FLAGS: Record<LabPortName, string> = {
  ui: '--ui-port',
  smtp: '--smtp-port',
  smtpTls: '--smtp-tls-port',
  pop3: '--pop3-port',
  pop3Tls: '--pop3-tls-port',
  ftp: '--ftp-port',
  ftpTls: '--ftp-tls-port',
  chat: '--chat-port',
  chatTls: '--chat-tls-port',
  http: '--http-port',
  https: '--https-port',
  classicBase: '--classic-base',
};

export interface LabConfig {
  host: string;
  dataDir: string;
  ports: Record<LabPortName, number>;
  portOffset: number;
  acceptAnyAuth: boolean;
  uiAuth?: string;
  /** the dashboard's simultaneous connections in all (default 256) */
  uiMaxConnections?: number;
  /** the dashboard's simultaneous connections per client address (default 64) */
  uiMaxConnectionsPerIp?: number;
  maxMessages: number;
  passivePorts?: string;
  /** each service's limits and policies (`services` in `netkit.config.json`) */
  services?: LabServiceOptions;
}

export type LabConfigInput = Partial<Omit<LabConfig, 'ports'>> & {
  ports?: Partial<Record<LabPortName, number>>;
};

const ENV_PORTS: Record<string, LabPortName> = {
  NETKIT_UI_PORT: 'ui',
  NETKIT_SMTP_PORT: 'smtp',
  NETKIT_SMTP_TLS_PORT: 'smtpTls',
  NETKIT_POP3_PORT: 'pop3',
  NETKIT_POP3_TLS_PORT: 'pop3Tls',
  NETKIT_FTP_PORT: 'ftp',
  NETKIT_FTP_TLS_PORT: 'ftpTls',
  NETKIT_CHAT_PORT: 'chat',
  NETKIT_CHAT_TLS_PORT: 'chatTls',
  NETKIT_HTTP_PORT: 'http',
  NETKIT_HTTPS_PORT: 'https',
  NETKIT_CLASSIC_BASE: 'classicBase',
};

/**
 * A port: a whole number 0-65535, given as a number (the file) or as decimal digits (the
 * environment). Nothing else is coerced: `Number()` would read `true` as port 1, `null` and `""`
 * as 0 (any free port) and `"0x50"` as 80.
 */
function port(value: unknown, where: string, given: 'number' | 'digits'): number {
  const digits = typeof value === 'string' && /^\d+$/.test(value);
  const n = given === 'number' ? (typeof value === 'number' ? value : NaN) : digits ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new NetkitError('NETKIT_USAGE', `${where}: ${JSON.stringify(value)} is not a port (0-65535)`);
  return n;
}

/** Read the NETKIT_* variables into a config layer. */
export function configFromEnv(env: NodeJS.ProcessEnv): LabConfigInput {
  const out: LabConfigInput = { ports: {} };
  for (const [name, key] of Object.entries(ENV_PORTS)) {
    if (env[name] !== undefined && env[name] !== '') out.ports![key] = port(env[name], name, 'digits');
  }
  if (env.NETKIT_HOST) out.host = env.NETKIT_HOST;
  if (env.NETKIT_DATA) out.dataDir = env.NETKIT_DATA;
  if (env.NETKIT_PORT_OFFSET) out.portOffset = Number(env.NETKIT_PORT_OFFSET);
  if (env.NETKIT_ACCEPT_ANY_AUTH) out.acceptAnyAuth = /^(1|true|yes)$/i.test(env.NETKIT_ACCEPT_ANY_AUTH);
  if (env.NETKIT_UI_AUTH) out.uiAuth = env.NETKIT_UI_AUTH;
  if (env.NETKIT_MAX_MESSAGES) out.maxMessages = Number(env.NETKIT_MAX_MESSAGES);
  return out;
}

/** Validate the parsed `netkit.config.json` (unknown keys are an error: typos must not pass silently). */
export function configFromFile(data: unknown, file = 'netkit.config.json'): LabConfigInput {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new NetkitError('NETKIT_USAGE', `${file}: expected a JSON object`);
  }
  const allowed = new Set([
    'host',
    'dataDir',
    'ports',
    'portOffset',
    'acceptAnyAuth',
    'uiAuth',
    'uiMaxConnections',
    'uiMaxConnectionsPerIp',
    'maxMessages',
    'passivePorts',
    'services',
  ]);
  const obj = data as Record<string, unknown>;
  for (const k of Object.keys(obj))
    if (!allowed.has(k)) throw new NetkitError('NETKIT_USAGE', `${file}: unknown key "${k}"`);
  const out: LabConfigInput = { ...(obj as LabConfigInput), ports: {} };
  if (obj.services !== undefined) out.services = serviceOptionsFromFile(obj.services, file);
  const ports = obj.ports ?? {};
  if (typeof ports !== 'object' || ports === null || Array.isArray(ports))
    throw new NetkitError('NETKIT_USAGE', `${file}: "ports" must be an object ({"smtp": 2525, …})`);
  for (const [k, v] of Object.entries(ports)) {
    if (!Object.hasOwn(DEFAULT_LAB_PORTS, k))
      throw new NetkitError('NETKIT_USAGE', `${file}: unknown port "${k}"`);
    out.ports![k as LabPortName] = port(v, `${file} ports.${k}`, 'number');
  }
  return out;
}

/**
 * The dashboard answers off loopback only behind a password: refuse the host without `uiAuth`.
 * Checked with the rest of the configuration, so that a refused lab creates no data directory and
 * binds no port; the dashboard checks again for a library user who starts it alone.
 */
export function checkDashboardAuth(host: string, uiAuth: string | undefined): void {
  if (!isLoopback(host) && !uiAuth)
    throw new NetkitError(
      'NETKIT_USAGE',
      `the dashboard binds ${host}, which is not loopback: add --ui-auth user:pass`,
    );
}

/** Merge layers, lowest precedence first; apply the port offset to every non-zero port. */
export function resolveLabConfig(...layers: LabConfigInput[]): LabConfig {
  const cfg: LabConfig = {
    host: '127.0.0.1',
    dataDir: 'netkit-data',
    ports: { ...DEFAULT_LAB_PORTS },
    portOffset: 0,
    acceptAnyAuth: false,
    maxMessages: 5000,
  };
  for (const layer of layers) {
    const { ports, ...rest } = layer;
    for (const [k, v] of Object.entries(rest))
      if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
    for (const [k, v] of Object.entries(ports ?? {})) if (v !== undefined) cfg.ports[k as LabPortName] = v;
  }
  // every layer's values, checked once merged: a wrong type must not start a lab that ignores it
  for (const key of ['host', 'dataDir', 'passivePorts'] as const) {
    const v = cfg[key] as unknown;
    if (v !== undefined && (typeof v !== 'string' || v === ''))
      throw new NetkitError('NETKIT_USAGE', `${key} must be a non-empty string, not ${JSON.stringify(v)}`);
  }
  if (typeof cfg.acceptAnyAuth !== 'boolean')
    throw new NetkitError(
      'NETKIT_USAGE',
      `acceptAnyAuth must be true or false, not ${JSON.stringify(cfg.acceptAnyAuth)}`,
    );
  if (!Number.isInteger(cfg.maxMessages) || cfg.maxMessages < 0)
    throw new NetkitError(
      'NETKIT_USAGE',
      `max messages must be a whole number (0 = no cap), not ${JSON.stringify(cfg.maxMessages)}`,
    );
  for (const key of ['uiMaxConnections', 'uiMaxConnectionsPerIp'] as const) {
    const v = cfg[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new NetkitError(
        'NETKIT_USAGE',
        `${key} must be a whole number above 0, not ${JSON.stringify(v)}`,
      );
  }
  if (!Number.isInteger(cfg.portOffset)) {
    throw new NetkitError('NETKIT_USAGE', `port offset "${cfg.portOffset}" is not an integer`);
  }
  if (cfg.portOffset < -65535 || cfg.portOffset > 65535) {
    throw new NetkitError('NETKIT_USAGE', `port offset ${cfg.portOffset} is out of range (-65535 to 65535)`);
  }
  // USER:PASSWORD, both parts non-empty: anything else would start a dashboard nobody can log in to
  if (cfg.uiAuth !== undefined && !/^[^:]+:.+$/s.test(cfg.uiAuth)) {
    throw new NetkitError('NETKIT_USAGE', 'UI auth must be USER:PASSWORD (both non-empty)');
  }
  checkDashboardAuth(cfg.host, cfg.uiAuth);
  if (cfg.portOffset) {
    for (const k of Object.keys(cfg.ports) as LabPortName[]) {
      if (cfg.ports[k] !== 0)
        cfg.ports[k] = port(cfg.ports[k] + cfg.portOffset, `${PORT_FLAGS[k]} + --port-offset`, 'number');
    }
  }
  return cfg;
}
