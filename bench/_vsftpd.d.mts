// Types for bench/_vsftpd.mjs (the vsftpd config writer); see the module comment there.
export declare function writeVsftpdConfig(
  dir: string,
  opts: { root: string; port?: number; modify?: boolean; extra?: string[] },
): Promise<string>;
