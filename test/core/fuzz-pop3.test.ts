/** The POP3 server (createPop3Server) under the mutation fuzzer: see test/helpers/fuzz.ts. */

import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startPop3Target } from '../helpers/fuzz-targets.js';

describeFuzz('pop3', startPop3Target, { what: 'a message still retrieved whole' });
