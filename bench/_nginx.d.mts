export interface NginxHandle {
  port: number;
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}
export function startNginx(opts: {
  root: string;
  serverExtra?: string;
  listen?: string;
  bin?: string;
}): Promise<NginxHandle>;
