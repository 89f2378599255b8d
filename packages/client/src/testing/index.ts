/**
 * Test support for code built on the SDK: an in-process fake Parley server that speaks the
 * messaging protocol, and people on it. Import from '@parley/client/testing'; never part of the
 * main entry point.
 */

export {
  eventually,
  FakeCast,
  type FakeMember,
  type FakeMemberOptions,
  shownTexts,
  startConversation,
} from './fake-member.js';
export { type FakeDevice, FakeServer, type FakeServerEvents } from './fake-server.js';
export { FakeSocket } from './fake-socket.js';
export { forgedKeyPackage } from './forged-keys.js';
