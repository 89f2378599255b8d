/** Opens this browser's Parley state (IndexedDB) and the SDK, and loads the app's model from it. */

import { IndexedDbStore, ParleyClient } from '@parley/client';
import { AppModel } from './model.js';
import type { CountryCode } from './phone.js';

/** The loaded model and the country picked at sign-up; throws when storage is unavailable. */
export async function openApp(): Promise<{ model: AppModel; region: CountryCode | undefined }> {
  const store = await IndexedDbStore.open('parley');
  const region = await AppModel.regionOf(store);
  const client = await ParleyClient.open({
    serverUrl: location.origin,
    store,
    ...(region ? { defaultRegion: region } : {}),
  });
  const model = new AppModel(client, store);
  await model.load();
  return { model, region: region as CountryCode | undefined };
}
