/** Tortie's IPPool annotation tortie.io/encapsulation (the UDP backend): validated, and the YAML stays Calico's. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { validateResource } from '../../../agent/resources/kinds.js';

const doc = (annotations: Record<string, string> | undefined, spec: Record<string, unknown>): unknown => ({
  apiVersion: 'projectcalico.org/v3', kind: 'IPPool',
  metadata: { name: 'p', ...(annotations === undefined ? {} : { annotations }) }, spec: { cidr: '10.244.0.0/16', ...spec },
});

test('IPPool tortie.io/encapsulation: udp carries vxlanMode or ipipMode; other values and a pool without a mode are refused by path', () => {
  for (const spec of [{ vxlanMode: 'CrossSubnet' }, { ipipMode: 'Always' }]) {
    const r = validateResource(doc({ 'tortie.io/encapsulation': 'udp' }, spec));
    assert.equal(r.ok, true, JSON.stringify(r));
  }
  const bad = validateResource(doc({ 'tortie.io/encapsulation': 'gre' }, { vxlanMode: 'Always' }));
  assert.deepEqual(bad.ok ? [] : bad.issues, [{ path: 'metadata.annotations.tortie.io/encapsulation', message: 'must be "udp" (the only encapsulation it selects), got "gre"' }]);
  const none = validateResource(doc({ 'tortie.io/encapsulation': 'udp' }, {}));
  assert.deepEqual(none.ok ? [] : none.issues.map((i) => i.path), ['metadata.annotations.tortie.io/encapsulation']);
  // Without the annotation nothing changes; other annotations are left alone.
  assert.equal(validateResource(doc({ 'example.com/x': 'y' }, {})).ok, true);
});
