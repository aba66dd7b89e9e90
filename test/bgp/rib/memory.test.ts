/**
 * Memory: after a peer with 200k routes goes away (and its Adj-RIB-Out entries are withdrawn),
 * the heap returns to where it was: tables shrink, interned attribute sets are dropped,
 * nothing keeps routes alive. Uses the real V8 garbage collector.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { intToIpv4 } from '../../../common/prefix.js';
import { TestUpdateGroup } from '../../helpers/update-group-member.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import type { Nlri } from '../../../bgp/wire/types.js';
import { attrs, peer, seq } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heap(): number { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; }

it('memory is reclaimed after withdrawal (real GC)', () => {
  const rib = new LocRib({ localAs: 65000, routerId: 1 });
  const group = new TestUpdateGroup({ kind: 'ebgp', localAs: 65000, routerId: 1, localAddress: Uint8Array.of(10, 0, 0, 1) });
  rib.onBestChange((c) => group.apply(c));
  const out = group.addMember('monitor');
  const before = heap();
  for (const n of [1, 2]) {
    const adj = rib.addPeer(peer(`e${n}`, 'ebgp', n));
    for (let s = 0; s < 100_000; s += 1000) {
      const nlri: Nlri[] = [];
      for (let i = s; i < s + 1000; i++) nlri.push({ prefix: { family: 4, bytes: intToIpv4(((20 << 24) + i * 256) >>> 0), length: 24 } });
      adj.update(nlri, attrs({ asPath: seq(65100 + n, s % 10_000), med: s }));
      out.drain();
    }
  }
  const loaded = heap();
  assert.equal(rib.size, 100_000);
  assert.equal(out.size, 100_000);
  const grown = loaded - before;
  assert.ok(grown > 2_000_000, `loading 200k routes grew the heap (${grown} B)`);
  rib.removePeer('e1');
  rib.removePeer('e2');
  assert.equal(out.drain().withdraw.length, 100_000);
  
  const after = heap();
  assert.equal(rib.size, 0);
  assert.equal(rib.interner.size, 0);
  assert.ok(after - before < grown * 0.1, `retained ${after - before} B of ${grown} B after withdrawal`);
});
