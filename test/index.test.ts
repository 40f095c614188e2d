import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as netkit from '../src/index.js';
import { ROOT } from './helpers/net.js';

describe('library entry', () => {
  it('exports the typed API of every area', () => {
    for (const name of [
      'listenTcp',
      'LineConnection',
      'loadTls',
      'AccountStore',
      'startService',
      'createChatServer',
      'MulticastChat',
      'tcpConnect',
      'ipcalc',
      'createSmtpServer',
      'createPop3Server',
      'Pop3Client',
      'sendMail',
      'urlparse',
      'urljoin',
      'httpRequest',
      'download',
      'createFileServer',
      'startDashboard',
      'createFtpServer',
      'FtpClient',
      'startLab',
    ]) {
      expect(typeof (netkit as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it('reports the version from package.json', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(netkit.VERSION).toBe(pkg.version);
  });
});
