/**
 * The RIB fed with UPDATEs captured from real BIRD 2.0.12, FRR 8.4.4 and GoBGP 3.10
 * (test/fixtures/bgp, decoded by bgp/wire): all three announce the same prefixes with MED 50 from
 * different ASes (and the same BGP identifier), so best path falls through to the peer address;
 * the export to an eBGP neighbour keeps NO_EXPORT prefixes inside (which ones differs per
 * daemon), prepends our AS and survives a round trip through the real codec.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatPrefix, parsePrefix as parse } from '../../../common/prefix.js';
import { TestUpdateGroup } from '../../helpers/update-group-member.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import { decodeMessage } from '../../../bgp/wire/message.js';
import { encodeUpdates } from '../../../bgp/wire/update-encoder.js';
import { INITIAL_CONTEXT, WellKnownCommunity, type CodecContext, type OpenMessage, type UpdateMessage } from '../../../bgp/wire/types.js';
import { captureContext, FIXTURE_DIR, type CaptureFixture } from '../../helpers/bgp-capture.js';

interface Captured { readonly name: string; readonly open: OpenMessage; readonly updates: UpdateMessage[]; readonly expected: readonly string[] }

function load(name: string): Captured {
  const f = JSON.parse(readFileSync(resolve(FIXTURE_DIR, `capture-${name}.json`), 'utf8')) as CaptureFixture;
  let ctx: CodecContext = INITIAL_CONTEXT;
  let open: OpenMessage | undefined;
  const updates: UpdateMessage[] = [];
  for (const m of f.messages) {
    if (m.dir !== 'in') continue;
    const d = decodeMessage(Buffer.from(m.hex, 'hex'), ctx).message;
    if (d.type === 'open') { open = d; ctx = captureContext(d); }
    if (d.type === 'update') updates.push(d);
  }
  assert.ok(open, `${name}: no OPEN in the capture`);
  return { name, open, updates, expected: f.expectedPrefixes };
}

it('best path, NO_EXPORT and eBGP export over UPDATEs from real BIRD, FRR and GoBGP', () => {
  const peers = ['bird', 'frr', 'gobgp'].map(load);
  const rib = new LocRib({ localAs: 65000, routerId: 0x0a0000fe });
  const group = new TestUpdateGroup({ kind: 'ebgp', localAs: 65000, routerId: 0x0a0000fe, localAddress: Uint8Array.of(192, 0, 2, 254) });
  rib.onBestChange((c) => group.apply(c));
  const monitor = group.addMember('monitor');
  for (const [i, c] of peers.entries()) {
    const asn = c.open.capabilities.find((x) => x.type === 'four-octet-as');
    const adj = rib.addPeer({ id: c.name, kind: 'ebgp', asn: asn?.type === 'four-octet-as' ? asn.asn : c.open.myAs, routerId: c.open.bgpId, address: Uint8Array.of(10, 0, i, 2) });
    for (const u of c.updates) {
      if (u.nlri.length) adj.update(u.nlri, u.attributes);
      if (u.mpReach?.nlri.length) adj.update(u.mpReach.nlri, u.attributes, u.mpReach.nextHops[0]);
      if (u.withdrawn.length) adj.withdraw(u.withdrawn);
      if (u.mpUnreach?.withdrawn.length) adj.withdraw(u.mpUnreach.withdrawn);
    }
    assert.equal(adj.accepted, c.expected.length, `${c.name}: all routes accepted`);
  }
  const expected = peers[0]!.expected;
  // All three captures came from 10.0.0.2 (same BGP identifier), so after the router id the
  // lowest peer address decides: bird (10.0.0.2 here) < frr (10.0.1.2) < gobgp (10.0.2.2).
  const sameId = new Set(peers.map((x) => x.open.bgpId)).size === 1;
  const order = sameId ? peers : [...peers].sort((a, b) => a.open.bgpId - b.open.bgpId);
  for (const text of expected) {
    const prefix = parse(text);
    const ex = rib.explain(prefix);
    assert.equal(rib.candidates(prefix).length, 3, text);
    assert.equal(ex.best?.source.id, order[0]!.name, `${text}: winner`);
    assert.deepEqual(ex.losers.map((l) => l.step), sameId ? ['peer-address', 'peer-address'] : ['router-id', 'router-id'],
      `${text}: MED 50 from different neighbour ASes is not compared; path lengths tie`);
    if (prefix.family === 6) assert.equal(ex.best?.nextHop?.length, 16, 'IPv6 routes carry the MP_REACH next hop');
  }
  const exportable = (peerName: string) => expected.filter((t) => !rib.candidates(parse(t)).find((r) => r.source.id === peerName)!.attrs.communities?.includes(WellKnownCommunity.NO_EXPORT)).sort();
  const firstSet = exportable(order[0]!.name);
  assert.ok(firstSet.length > 0 && firstSet.length < expected.length, 'the captures mix NO_EXPORT and exportable prefixes');
  const batch = monitor.drain();
  const announced = batch.announce.flatMap((a) => a.prefixes.map(formatPrefix)).sort();
  assert.deepEqual(announced, firstSet, 'NO_EXPORT prefixes stay inside');
  for (const a of batch.announce) {
    assert.deepEqual(a.attrs.asPath?.[0]?.asns.slice(0, 1), [65000]);
    assert.equal(a.attrs.med, undefined, 'a received MED is not passed to another AS');
    const v4 = a.prefixes.filter((x) => x.family === 4);
    if (v4.length === 0) continue;
    const ctx: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true };
    const wire = encodeUpdates({ afi: 1, safi: 1 }, a.attrs, v4.map((prefix) => ({ prefix })), a.attrs.nextHop ?? new Uint8Array(4), ctx);
    const back = decodeMessage(wire[0]!, ctx).message;
    assert.equal(back.type, 'update');
    if (back.type === 'update') {
      assert.deepEqual(back.nlri.map((n) => formatPrefix(n.prefix)), v4.map(formatPrefix));
      assert.deepEqual(back.attributes.asPath, a.attrs.asPath);
      assert.deepEqual(back.attributes.communities, a.attrs.communities);
    }
  }
  rib.removePeer(order[0]!.name);
  for (const text of expected) assert.equal(rib.best(parse(text))?.source.id, order[1]!.name);
  const secondSet = exportable(order[1]!.name);
  const after = monitor.drain();
  assert.deepEqual(after.withdraw.map(formatPrefix).sort(), firstSet.filter((x) => !secondSet.includes(x)), 'withdrawn where the new best carries NO_EXPORT');
  assert.deepEqual(after.announce.flatMap((a) => a.prefixes.map(formatPrefix)).sort(), secondSet, 'the rest re-announced with the new path');
});
