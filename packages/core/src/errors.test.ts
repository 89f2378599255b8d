import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderErrorDocs } from './error-docs.js';
import { ERROR_CATALOG, getRetryAfterMs, isRateLimitError, ParleyError } from './errors.js';

describe('error catalog', () => {
  it('docs/errors.md is in step with the catalog (npm run docs:errors regenerates it)', () => {
    const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    assert.equal(docs, renderErrorDocs());
  });

  it('every code has a status and an actionable message', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      assert.match(code, /^[A-Z_]+$/);
      assert.ok(entry.status === 0 || (entry.status >= 400 && entry.status < 600), code);
      assert.ok(entry.message.length > 15 && entry.message.endsWith('.'), code);
    }
  });

  it('ParleyError carries code, status and retry-after into the wire body', () => {
    const error = new ParleyError('DISCOVERY_BUDGET_EXHAUSTED', {
      retryAfterMs: 1500,
      details: { remaining: 0 },
    });
    assert.equal(error.status, 429);
    assert.ok(isRateLimitError(error));
    assert.equal(getRetryAfterMs(error), 1500);
    assert.deepEqual(error.toBody(), {
      code: 'DISCOVERY_BUDGET_EXHAUSTED',
      message: ERROR_CATALOG.DISCOVERY_BUDGET_EXHAUSTED.message,
      retryAfterMs: 1500,
      details: { remaining: 0 },
    });
    assert.equal(isRateLimitError(new ParleyError('INVALID_JSON')), false);
  });
});
