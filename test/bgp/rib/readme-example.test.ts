/** The worked example of bgp/rib/API.md, run for real: UPDATE in, best change out, UPDATE batch out. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix } from '../../../common/prefix.js';
import { expandBatch, UpdateGroup } from '../../../bgp/rib/update-group.js';
import { LocRib, type BestChange } from '../../../bgp/rib/loc-rib.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import type { UpdateMessage } from '../../../bgp/wire/types.js';

it('API.md example', () => {
  const rib = new LocRib({ localAs: 65000, routerId: 0x0a000001, bestPath: { maxPaths: 4 } });
  const seen: BestChange[] = [];
  rib.onBestChange((changes) => { seen.push(...changes); });
  const tor = rib.addPeer({ id: 'tor1', kind: 'ebgp', asn: 65100, routerId: 0x0a000064, address: Uint8Array.of(10, 0, 0, 100) },
    { policy: compilePolicy({ rules: [] }), allowAsIn: 0 });
  const update: UpdateMessage = {
    type: 'update', withdrawn: [],
    attributes: { origin: 0, asPath: [{ type: 2, asns: [65100] }], nextHop: Uint8Array.of(10, 0, 0, 100) },
    nlri: [{ prefix: parsePrefix('192.0.2.0/24') }, { prefix: parsePrefix('198.51.100.0/24') }],
  };
  assert.equal(tor.update(update.nlri, update.attributes), 'accept');
  assert.deepEqual(seen.map((c) => [formatPrefix(c.prefix), c.best?.source.id]), [['192.0.2.0/24', 'tor1'], ['198.51.100.0/24', 'tor1']]);

  const group = new UpdateGroup({ kind: 'ebgp', localAs: 65000, routerId: 0x0a000001, localAddress: Uint8Array.of(10, 0, 0, 1) });
  rib.onBestChange((c) => group.apply(c));
  group.flush(() => undefined);
  group.addMember('spine1');
  const table = expandBatch(group.table('spine1', rib));
  assert.deepEqual(table.announce.map((a) => [a.attrs.asPath?.[0]?.asns, a.prefixes.map(formatPrefix).sort()]), [[[65000, 65100], ['192.0.2.0/24', '198.51.100.0/24']]]);
  const sent: Array<ReturnType<typeof expandBatch>> = [];
  const flush = () => { sent.length = 0; group.flush((id, b) => { if (id === 'spine1') sent.push(expandBatch(b)); }); return sent[0]; };
  rib.originate(parsePrefix('10.65.3.0/26'), { communities: [] });
  assert.deepEqual(flush()?.announce.map((a) => [a.attrs.asPath?.[0]?.asns, a.prefixes.map(formatPrefix)]), [[[65000], ['10.65.3.0/26']]]);
  tor.withdraw(update.nlri.slice(0, 1));
  assert.deepEqual(flush()?.withdraw.map(formatPrefix), ['192.0.2.0/24']);
  rib.removePeer('tor1');
  assert.deepEqual(flush()?.withdraw.map(formatPrefix), ['198.51.100.0/24']);
});
