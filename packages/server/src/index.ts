/**
 * `@parley/server`: start a server (`startServer`), or build its Fastify app, from a configuration
 * read from the environment (`loadConfig`). Test support is on the `@parley/server/testing` subpath.
 */
export { buildApp } from './app.js';
export { ConfigError, loadConfig, type ServerConfig } from './config.js';
export { adminTokenPath, type RunningServer, startServer } from './server.js';
export type { SmsProvider, VerificationSms } from './sms/sms-provider.js';
