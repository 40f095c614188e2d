/** A dashboard context over a data directory, as the lab builds one, for tests of the dashboard alone. */
import { AccountStore } from '../../src/core/accounts.js';
import type { LabContext } from '../../src/lab/context.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';

export function testLabContext(dir: string): LabContext {
  return {
    dataDir: dir,
    mail: new MailIndex(dir),
    wire: new WireLog(),
    accounts: new AccountStore(dir),
    status: () => [],
  };
}
