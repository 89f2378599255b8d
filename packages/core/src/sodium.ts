/**
 * libsodium (libsodium-wrappers-sumo: WASM, the same code in Node and browsers), imported on first
 * use so a page that never needs it never downloads it (~1 MB). One loader for identity keys,
 * link codes and safety numbers; a failed import is retried on the next call.
 */

export type Sodium = typeof import('libsodium-wrappers-sumo')['default'];

let loading: Promise<Sodium> | undefined;

export function loadSodium(): Promise<Sodium> {
  loading ??= import('libsodium-wrappers-sumo').then(
    async (loaded) => {
      await loaded.default.ready;
      return loaded.default;
    },
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}
