/**
 * Opens this browser's Parley state and the SDK (model/open.ts), then renders the app, with the
 * banner that offers a new version once the service worker has installed it.
 */

import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { UpdateBanner } from './components/update-banner.js';
import { openApp } from './model/open.js';
import { CannotStart } from './screens/cannot-start.js';
import './styles.css';

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root')!);
  try {
    const { model, region } = await openApp();
    root.render(
      <>
        <UpdateBanner />
        <App model={model} region={region} />
      </>,
    );
    model.start().catch((error: unknown) => {
      model.problem = error instanceof Error ? error.message : String(error);
      model.changed();
    });
  } catch (error) {
    root.render(
      <>
        <UpdateBanner />
        <CannotStart message={error instanceof Error ? error.message : String(error)} />
      </>,
    );
  }
}

void boot();
