/** Renders docs/errors.md from the catalog; a test fails when the two drift apart. */

import { ERROR_CATALOG } from './errors.js';

export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CATALOG).map(
    ([code, { status, message }]) =>
      `| \`${code}\` | ${status === 0 ? 'client' : status} | ${message.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error body is `{ "code", "message", "retryAfterMs"?, "details"? }`; 429 and 503 answers',
    'also carry a `Retry-After` header. The SDK raises them as `ParleyError` with `code`, `status`',
    'and `retryAfterMs`. Codes with status "client" are raised by the SDK itself, never sent by the',
    'server. This file is generated from `packages/core/src/errors.ts` (`npm run docs:errors`).',
    '',
    '| code | HTTP status | message |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
