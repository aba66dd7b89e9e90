/** withRoutePriority: originated routes get LOCAL_PREF = 2147483647 - priority; learned ones keep theirs (confd's export filter). */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { withRoutePriority } from '../../../agent/calc/route-priority.js';
import { parsePrefix } from '../../../common/prefix.js';

test('accept rules set LOCAL_PREF on our own routes only; reject rules, an explicit LOCAL_PREF and peers-only rules stay', () => {
  const pfx = { prefixes: [{ prefix: parsePrefix('10.0.0.0/8') }] };
  const r = withRoutePriority({ rules: [
    { match: pfx, action: 'reject' },
    { action: 'accept', set: { localPref: 5 } },
    { match: pfx, action: 'accept', set: { med: 3 } },
    { match: { source: 'peers' }, action: 'accept' },
  ], default: 'reject' }, 1024);
  assert.deepEqual(r.rules, [
    { match: pfx, action: 'reject' },
    { action: 'accept', set: { localPref: 5 } },
    { match: { ...pfx, source: 'local' }, action: 'accept', set: { med: 3, localPref: 2147482623 } },
    { match: pfx, action: 'accept', set: { med: 3 } },
    { match: { source: 'peers' }, action: 'accept' },
  ]);
  assert.equal(r.default, 'reject');
  const d = withRoutePriority({ rules: [], default: 'accept' }, 512);
  assert.deepEqual(d, { rules: [{ match: { source: 'local' }, action: 'accept', set: { localPref: 2147483135 } }, { action: 'accept' }], default: 'reject' });
});
