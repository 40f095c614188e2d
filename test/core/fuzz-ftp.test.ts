/**
 * The FTP server (createFtpServer) under the mutation fuzzer, control connection and the data
 * connections it offers (uploads, downloads, resets): see test/helpers/fuzz.ts.
 */

import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startFtpTarget } from '../helpers/fuzz-targets.js';

describeFuzz('ftp', startFtpTarget, {
  cases: 150,
  what: 'uploads answered 226 read back whole, files only where an account may write',
});
