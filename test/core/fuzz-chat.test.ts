/** The chat server (createChatServer) under the mutation fuzzer: see test/helpers/fuzz.ts. */

import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startChatTarget } from '../helpers/fuzz-targets.js';

describeFuzz('chat', startChatTarget, { what: 'a new client still joins and is listed' });
