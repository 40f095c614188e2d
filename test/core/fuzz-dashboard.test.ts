/**
 * The lab dashboard's HTTP API, event stream and WebSocket (the whole lab started, as `netkit lab`
 * does) under the mutation fuzzer: see test/helpers/fuzz.ts.
 */

import { describeFuzz } from '../helpers/fuzz-suite.js';
import { startDashboardTarget } from '../helpers/fuzz-targets.js';

describeFuzz('dashboard', startDashboardTarget, {
  cases: 150,
  what: 'API, WebSocket and event stream still served',
});
