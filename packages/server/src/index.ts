/**
 * `@parley/server`: start a server (`startServer`), or build its Fastify app, from a configuration
 * read from the environment (`loadConfig`). Test support is on the `@parley/server/testing` subpath.
 */

export { ConfigError, loadConfig, type ServerConfig } from './config/config.js';
export { buildApp } from './http/app.js';
export type { SmsProvider, VerificationSms } from './infra/sms/sms-provider.js';
export { adminTokenPath, type RunningServer, startServer } from './server.js';
