/**
 * An attachment in a chat: its thumbnail (made by the sender) until it is fetched, its name and
 * size, a button that fetches, checks and decrypts it with a progress bar, then the image inline
 * and a link that saves it under its name. The bytes stay in this page (a `blob:` URL, revoked
 * when the message leaves the screen).
 */

import { useEffect, useState } from 'react';
import { blobUrl, formatSize, isInlineImage } from '../model/attachments.js';
import { describeError } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import type { ChatMessage } from '../model/sdk.js';

export function AttachmentView(props: { model: AppModel; message: ChatMessage }) {
  const info = props.message.attachment;
  const [url, setUrl] = useState<string>();
  const [progress, setProgress] = useState<number>();
  const [error, setError] = useState<string>();

  useEffect(
    () => () => {
      if (url) URL.revokeObjectURL(url);
    },
    [url],
  );

  if (!info) return null;
  const image = isInlineImage(info.contentType);

  const open = async () => {
    setError(undefined);
    setProgress(0);
    try {
      const bytes = await props.model.client.messenger.fetchAttachment(props.message, {
        onProgress: (done, total) => setProgress(done / total),
      });
      setUrl(blobUrl(bytes, info.contentType));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setProgress(undefined);
    }
  };

  return (
    <span className="attachment">
      {url && image ? (
        <img className="attachment-image" src={url} alt={info.name} />
      ) : (
        info.thumbnail && (
          <img
            className="attachment-thumbnail"
            src={`data:image/jpeg;base64,${info.thumbnail}`}
            alt={`Preview of ${info.name}`}
          />
        )
      )}
      <span className="attachment-name">
        {info.name} ({formatSize(info.size)})
      </span>
      {url ? (
        <a href={url} download={info.name}>
          Save {info.name}
        </a>
      ) : (
        <button type="button" onClick={() => void open()} disabled={progress !== undefined}>
          {image ? 'Show' : 'Download'} {info.name}
        </button>
      )}
      {progress !== undefined && (
        <progress value={progress} max={1} aria-label={`Downloading ${info.name}`} />
      )}
      {error && (
        <span className="attachment-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
