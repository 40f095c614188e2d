// Debian's vsftpd as a peer, unprivileged: anonymous access to one directory, no chroot
// (`run_as_launching_user`). One config writer for the FTP benchmark (standalone on a port) and the
// FTP client tests (inetd mode: handed each connection on stdin/stdout). Types in _vsftpd.d.mts.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write `DIR/vsftpd.conf` for anonymous access to `root` and return its path. `port` set: a
 * standalone listener on 127.0.0.1:port; unset: inetd mode. `modify` also allows mkdir, rename and
 * delete (uploads are always allowed); `extra` lines are appended.
 */
export async function writeVsftpdConfig(dir, { root, port, modify = false, extra = [] }) {
  const empty = path.join(dir, 'vsftpd-empty');
  await mkdir(empty, { recursive: true });
  const conf = path.join(dir, 'vsftpd.conf');
  const listen =
    port === undefined
      ? ['listen=NO', 'listen_ipv6=NO']
      : ['listen=YES', 'listen_ipv6=NO', 'listen_address=127.0.0.1', `listen_port=${port}`, 'background=NO'];
  await writeFile(
    conf,
    [
      ...listen,
      'anonymous_enable=YES',
      'local_enable=NO',
      'write_enable=YES',
      'anon_upload_enable=YES',
      ...(modify ? ['anon_mkdir_write_enable=YES', 'anon_other_write_enable=YES', 'anon_umask=022'] : []),
      `anon_root=${root}`,
      'no_anon_password=YES',
      'anon_world_readable_only=NO',
      'seccomp_sandbox=NO',
      `secure_chroot_dir=${empty}`,
      'run_as_launching_user=YES',
      'xferlog_enable=NO',
      ...extra,
      '',
    ].join('\n'),
  );
  return conf;
}
