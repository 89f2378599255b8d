/**
 * `@parley/server`: start a server (`startServer`), or build its Fastify app, from a configuration
 * read from the environment (`loadConfig`). Test support is on the `@parley/server/testing` subpath.
 */

export { ConfigError, loadConfig, type ServerConfig } from './config/config.js';
export { buildApp } from './http/app.js';
export {
  backupSqlite,
  collectKeys,
  databaseInUse,
  restore,
  writeWhole,
} from './infra/backup/backup.js';
export {
  backupKindOf,
  type KeyFiles,
  openKeys,
  sealKeys,
} from './infra/backup/backup-file.js';
export {
  SECRET_FILES,
  type SecretFile,
  SHARED_SECRET_FILES,
  SQLITE_FILES,
  sqlitePath,
} from './infra/data-dir.js';
export { type MigrationPlan, migrationPlan, openDatabase } from './infra/db/database.js';
export type { SmsProvider, VerificationSms } from './infra/sms/sms-provider.js';
export { adminTokenPath, type RunningServer, startServer } from './server.js';
