/**
 * The SDK for Node: everything in the main entry point, plus a store in a directory and a
 * WebSocket from the `ws` package. Import from '@parley/client/node'.
 */

export * from './index.js';
export { FileStore } from './store/file-store.js';
export { nodeSocket } from './transport/node-socket.js';
