/** The SMTP server (createSmtpServer) under the mutation fuzzer: see test/helpers/fuzz.ts. */

import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startSmtpTarget } from '../helpers/fuzz-targets.js';

describeFuzz('smtp', startSmtpTarget, { what: 'only whole, announced messages in the Maildirs' });
