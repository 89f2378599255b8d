/** Opens this browser's Parley state (IndexedDB) and the SDK, then renders the app. */

import { IndexedDbStore, ParleyClient } from '@parley/client';
import type { CountryCode } from 'libphonenumber-js/max';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { AppModel } from './model/model.js';
import './styles.css';

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root')!);
  try {
    const store = await IndexedDbStore.open('parley');
    const region = await AppModel.regionOf(store);
    const client = await ParleyClient.open({
      serverUrl: location.origin,
      store,
      ...(region ? { defaultRegion: region } : {}),
    });
    const model = new AppModel(client, store);
    await model.load();
    root.render(<App model={model} region={region as CountryCode | undefined} />);
    model.start().catch((error: unknown) => {
      model.problem = error instanceof Error ? error.message : String(error);
      model.changed();
    });
  } catch (error) {
    root.render(
      <main className="onboarding">
        <h1>Parley cannot start</h1>
        <p role="alert">{error instanceof Error ? error.message : String(error)}</p>
        <p>
          Parley keeps its keys in this browser’s storage (IndexedDB); private windows may not allow
          it.
        </p>
      </main>,
    );
  }
}

void boot();
