// Types for bench/_net.mjs (port helpers for peers that cannot listen on port 0); see the module comment there.
export declare function freePort(host?: string): Promise<number>;
export declare function canConnect(port: number): Promise<boolean>;
export declare function waitForPort(
  port: number,
  opts?: { ms?: number; gaveUp?: () => boolean; pid?: number },
): Promise<boolean>;
export declare function ownsPort(pid: number, port: number): boolean;
