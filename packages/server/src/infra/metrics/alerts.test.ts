/**
 * The example alerting rules (docs/deploy/parley-alerts.yml, explained in docs/operations.md)
 * name only metrics a running server exports, so an operator who copies them gets alerts that
 * can fire.
 */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { adminTokenPath } from '../../server.js';
import { testServer } from '../../testing/index.js';

const RULES = new URL('../../../../../docs/deploy/parley-alerts.yml', import.meta.url);

describe('the example alerting rules', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  before(async () => {
    t = await testServer();
  });
  after(() => t.server.close());

  it('name only metrics the server exports', async () => {
    const response = await fetch(new URL('/metrics', t.server.url), {
      headers: {
        authorization: `Bearer ${readFileSync(adminTokenPath(t.config.dataDir), 'utf8').trim()}`,
      },
    });
    const text = await response.text();
    const exported = new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ')[2]!),
    );
    const named = [...readFileSync(RULES, 'utf8').matchAll(/\bparley_[a-z_]+/g)].map((m) =>
      m[0].replace(/_(bucket|count|sum)$/, ''),
    );
    assert.ok(named.length >= 8);
    for (const name of new Set(named)) assert.ok(exported.has(name), `${name} is not exported`);
    // The label values the rules select on are there from the start.
    assert.match(text, /^parley_sms_failures_total\{code="SMS_PROVIDER_OUT_OF_CREDIT"\} 0$/m);
    assert.match(text, /^parley_sms_failures_total\{code="SMS_NUMBER_REJECTED"\} 0$/m);
    assert.match(text, /^parley_rate_limit_refusals_total\{kind="verification"\} 0$/m);
  });
});
