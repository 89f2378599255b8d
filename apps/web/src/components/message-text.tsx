/** A message's text with its web addresses as links that open in a new tab, nothing previewed. */

import { linkParts } from '../model/reading.js';

export function MessageText(props: { text: string }) {
  return (
    <>
      {linkParts(props.text).map((part, i) =>
        'href' in part ? (
          // The page opened learns nothing of Parley (no referrer, no window.opener).
          <a key={i} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
            {part.text}
          </a>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </>
  );
}
