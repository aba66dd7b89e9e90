/** withRoutePriority: every accepted route gets LOCAL_PREF = 2147483647 - priority, other rules untouched. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { withRoutePriority } from '../../../agent/calc/route-priority.js';
import { parsePrefix } from '../../../common/prefix.js';

test('accept rules get LOCAL_PREF 2147483647 - priority; reject rules and an explicit LOCAL_PREF stay; a default accept becomes an explicit rule', () => {
  const p = parsePrefix('10.0.0.0/8');
  const r = withRoutePriority({ rules: [{ match: { prefixes: [{ prefix: p }] }, action: 'reject' }, { action: 'accept', set: { localPref: 5 } }, { action: 'accept', set: { med: 3 } }], default: 'reject' }, 1024);
  assert.deepEqual(r.rules.map((x) => x.set), [undefined, { localPref: 5 }, { med: 3, localPref: 2147482623 }]);
  assert.equal(r.default, 'reject');
  const d = withRoutePriority({ rules: [], default: 'accept' }, 512);
  assert.deepEqual(d, { rules: [{ action: 'accept', set: { localPref: 2147483135 } }], default: 'reject' });
});
