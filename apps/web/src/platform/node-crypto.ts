/**
 * What the module name `crypto` stands for in the browser build (vite.config.ts aliases it here).
 * The MLS library's HPKE dependency (@hpke/common, under ts-mls) loads Node's `crypto` when
 * `globalThis.crypto` is missing — Node 18 and older. Browsers always have Web Crypto, so that
 * branch never runs here; this gives the name the browser's own implementation, where Vite would
 * otherwise put an empty stand-in for a Node module (and warn about it at every build).
 */
export const webcrypto: Crypto = globalThis.crypto;
