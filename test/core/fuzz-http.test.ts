/** The HTTP file server (`http serve`, createFileServer) under the mutation fuzzer: see test/helpers/fuzz.ts. */

import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startHttpTarget } from '../helpers/fuzz-targets.js';

describeFuzz('http', startHttpTarget, { what: 'no file left open, the site unchanged' });
