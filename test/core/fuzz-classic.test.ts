/** The classic TCP services (echo, discard, daytime, qotd, chargen, time) under the mutation fuzzer: see test/helpers/fuzz.ts. */
import { CLASSIC_SERVICES } from '../../src/sockets/classic.js';
import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startClassicTarget } from '../helpers/fuzz-targets.js';

for (const service of CLASSIC_SERVICES)
  describeFuzz(service, () => startClassicTarget(service), { cases: 60, what: 'the service still answers' });
