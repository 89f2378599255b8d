/** The server's services, wired once at start and handed to the routes. */

import type { AccountDeletion } from './account-deletion.js';
import type { Accounts } from './accounts.js';
import type { Bus } from './bus/bus.js';
import type { Db } from './db/database.js';
import type { Devices } from './devices.js';
import type { Directory } from './directory.js';
import type { Discovery } from './discovery.js';
import type { ContactLinks } from './messaging/contact-links.js';
import type { Groups } from './messaging/groups.js';
import type { Hub } from './messaging/hub.js';
import type { KeyPackages } from './messaging/key-packages.js';
import type { Mailbox } from './messaging/mailbox.js';
import type { OprfPool } from './oprf/oprf-pool.js';
import type { VerificationService } from './verification.js';

export interface Services {
  db: Db;
  accounts: Accounts;
  deletion: AccountDeletion;
  devices: Devices;
  directory: Directory;
  discovery: Discovery;
  verification: VerificationService;
  /** The OPRF worker pool; `pool.backend` says whether it runs native or WASM. */
  pool: OprfPool;
  hub: Hub;
  /** What this node shares with the others: in process, or Redis (PARLEY_REDIS_URL). */
  bus: Bus;
  keyPackages: KeyPackages;
  mailbox: Mailbox;
  groups: Groups;
  links: ContactLinks;
}
