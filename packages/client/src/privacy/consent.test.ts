/**
 * The consent disclosure says what the server keeps of an address book (contact links, the
 * presence allow-list, nothing else) in exactly the words docs/security.md uses, and the terminal
 * text carries them too; a change to one without the other fails here.
 */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildDisclosure, disclosureText, KEPT } from './consent.js';

const security = readFileSync(new URL('../../../../docs/security.md', import.meta.url), 'utf8');

describe('consent disclosure: what the server keeps', () => {
  it('names contact links and the presence allow-list', () => {
    assert.match(KEPT[0]!, /^Contact links:/);
    assert.match(KEPT[1]!, /^Your presence allow-list:/);
    assert.deepEqual(buildDisclosure('https://parley.example').kept, KEPT);
  });

  it('in the words of docs/security.md, line for line', () => {
    const section = security.slice(
      security.indexOf('## What the server keeps of an address book'),
      security.indexOf('## The operator and the OPRF key'),
    );
    const listed = section
      .split('\n')
      .filter((line) => line.startsWith('- '))
      .map((line) => line.slice(2));
    assert.deepEqual(listed, KEPT);
  });

  it('the terminal text shows them', () => {
    const text = disclosureText(buildDisclosure('https://parley.example'));
    for (const line of KEPT) assert.ok(text.includes(`  • ${line}`), line);
  });
});
