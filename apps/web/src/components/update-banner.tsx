/** "A new version of Parley is ready" with a Reload button, once a new version has installed. */

import { useEffect, useState } from 'react';
import { watchForUpdates } from '../model/service-worker.js';

export function UpdateBanner() {
  const [apply, setApply] = useState<(() => void) | undefined>(undefined);
  useEffect(() => watchForUpdates((next) => setApply(() => next)), []);
  if (!apply) return null;
  return (
    <section className="update-banner" aria-label="Update">
      <p role="status">A new version of Parley is ready.</p>
      <button type="button" className="primary" onClick={apply}>
        Reload
      </button>
    </section>
  );
}
