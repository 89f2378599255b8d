/** The server's services, wired once at start and handed to the routes. */

import type { Directory } from './directory/directory.js';
import type { DirectorySigner } from './directory/signer.js';
import type { ContactLinks } from './discovery/contact-links.js';
import type { Discovery } from './discovery/discovery.js';
import type { PresenceAllowList } from './discovery/presence-allow-list.js';
import type { AccountDeletion } from './identity/account-deletion.js';
import type { Accounts } from './identity/accounts.js';
import type { Devices } from './identity/devices.js';
import type { IdentityKeys } from './identity/identity-keys.js';
import type { Linking } from './identity/linking.js';
import type { Profiles } from './identity/profiles.js';
import type { VerificationService } from './identity/verification.js';
import type { Bus } from './infra/bus/bus.js';
import type { Db } from './infra/db/database.js';
import type { OprfPool } from './infra/oprf/oprf-pool.js';
import type { Attachments } from './messaging/attachments.js';
import type { Blocks } from './messaging/blocks.js';
import type { Groups } from './messaging/groups.js';
import type { KeyPackages } from './messaging/key-packages.js';
import type { Mailbox } from './messaging/mailbox.js';
import type { PushNotifier } from './push/notifier.js';
import type { VapidKey } from './push/vapid-key.js';
import type { Hub } from './realtime/hub.js';

export interface Services {
  db: Db;
  accounts: Accounts;
  deletion: AccountDeletion;
  devices: Devices;
  identityKeys: IdentityKeys;
  linking: Linking;
  directory: Directory;
  /** Signs the directory statements (directory/signer.ts). */
  signer: DirectorySigner;
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
  allowList: PresenceAllowList;
  /** Encrypted attachments' blobs: files under the data directory, or PostgreSQL. */
  attachments: Attachments;
  profiles: Profiles;
  blocks: Blocks;
  /** Web Push wake-ups for devices with no open socket, and their subscriptions. */
  push: PushNotifier;
  vapidKey: VapidKey;
}
