export { buildApp } from './app.js';
export {
  deleteRedisKeys,
  dumpRedisKeys,
  REDIS_TEST_URL,
  redisReachable,
} from './bus/redis-testing.js';
export { ConfigError, loadConfig, type ServerConfig } from './config.js';
export { directoryTableName } from './db/migrations.js';
export {
  createPostgresDatabase,
  dropPostgresDatabases,
  dumpPostgresDatabase,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from './db/test-databases.js';
export { adminTokenPath, type RunningServer, startServer } from './server.js';
export type { SmsProvider, VerificationSms } from './sms/sms-provider.js';
