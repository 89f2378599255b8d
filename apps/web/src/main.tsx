/** Opens this browser's Parley state and the SDK (model/open.ts), then renders the app. */

import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { openApp } from './model/open.js';
import { CannotStart } from './screens/cannot-start.js';
import './styles.css';

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root')!);
  try {
    const { model, region } = await openApp();
    root.render(<App model={model} region={region} />);
    model.start().catch((error: unknown) => {
      model.problem = error instanceof Error ? error.message : String(error);
      model.changed();
    });
  } catch (error) {
    root.render(<CannotStart message={error instanceof Error ? error.message : String(error)} />);
  }
}

void boot();
