// Loads the native OPRF addon if `npm ci` could build it (a C compiler and libsodium-dev were
// there); otherwise the server keeps using libsodium's WASM build. Never throws.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let cached;
let failure;

export function loadNativeOprf() {
  if (cached === undefined && failure === undefined) {
    try {
      cached = require('./build/Release/oprf_native.node');
    } catch (error) {
      failure = error instanceof Error ? error.message.split('\n')[0] : String(error);
    }
  }
  return cached;
}

export function nativeOprfUnavailableReason() {
  loadNativeOprf();
  return failure;
}
