/**
 * The notification settings: turning notifications on (subscribing this browser to push, with a
 * clear message where it has no push service: the app keeps working) and off, and hiding message
 * text in notifications.
 */

import { useEffect, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import { type NotificationSettings, readNotificationSettings } from '../model/notifications.js';
import { disableNotifications, enableNotifications, setHideText } from '../model/push.js';

export function NotificationSettingsPanel(props: { model: AppModel }) {
  const { client, store } = props.model;
  const [settings, setSettings] = useState<NotificationSettings>();
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    void readNotificationSettings(store).then(setSettings);
  }, [store]);

  async function run(task: () => Promise<NotificationSettings>, done: string) {
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      setSettings(await task());
      setStatus(done);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  if (!settings) return null;
  return (
    <div className="panel">
      <h2>Notifications</h2>
      <p className="hint">
        When Parley is closed, the server sends this browser a wake-up with nothing in it; Parley
        then fetches and decrypts the message itself. The push service (your browser maker&apos;s)
        learns only when something arrived.
      </p>
      <p role="status" className="status">
        {busy ? 'Turning notifications on…' : status}
      </p>
      <Alert message={error} />
      {settings.enabled ? (
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            void run(() => disableNotifications(client, store), 'Notifications are off.')
          }
        >
          Turn notifications off
        </button>
      ) : (
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            void run(() => enableNotifications(client, store), 'Notifications are on.')
          }
        >
          Turn notifications on
        </button>
      )}
      <label className="choice">
        <input
          type="checkbox"
          checked={settings.hideText}
          onChange={(e) =>
            void run(
              () => setHideText(store, e.target.checked),
              e.target.checked
                ? 'Notifications show who wrote, not what.'
                : 'Notifications show the message text.',
            )
          }
        />
        Hide message text in notifications
      </label>
    </div>
  );
}
