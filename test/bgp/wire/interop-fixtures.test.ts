/**
 * Interop fixtures: raw messages captured from real BIRD 2.0.12, FRR 8.4.4 and GoBGP 3.10
 * (test/helpers/bgp-capture.ts, regenerate with `node dist/test/helpers/bgp-capture.js`).
 * Each message decodes without problems and re-encodes byte for byte (with the sender's
 * attribute layout preserved); the decoded content matches what the peer was configured to send.
 * One live test repeats the capture against BIRD in namespaces.
 *
 *   ns us 10.0.0.1 (capture server, our codec) ──veth── 10.0.0.2 ns peer (BIRD | FRR | GoBGP)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeMessage, encodeMessage } from '../../../bgp/wire/message.js';
import { formatAsPath } from '../../../bgp/wire/attributes/as-path.js';
import { formatCommunity } from '../../../bgp/wire/attributes/communities.js';
import { formatExtendedCommunity } from '../../../bgp/wire/attributes/extended-communities.js';
import { formatLargeCommunity } from '../../../bgp/wire/attributes/large-community.js';
import { formatAddress, formatPrefix } from '../../../common/prefix.js';
import { INITIAL_CONTEXT, type CodecContext, type UpdateMessage } from '../../../bgp/wire/types.js';
import { capture, captureContext, FIXTURE_DIR, type CaptureFixture } from '../../helpers/bgp-capture.js';
import { topologySkipReason } from '../../helpers/netns.js';
import { hex, toHex } from './wire-test-helpers.js';

const PEER_AS: Record<string, number> = { bird: 65001, frr: 65002, gobgp: 65003 };

function load(name: string): CaptureFixture {
  return JSON.parse(readFileSync(resolve(FIXTURE_DIR, `capture-${name}.json`), 'utf8')) as CaptureFixture;
}

/** Decode every captured message, check the byte-exact round trip, return the peer's UPDATEs. */
function replay(f: CaptureFixture): UpdateMessage[] {
  let ctx: CodecContext = INITIAL_CONTEXT;
  const updates: UpdateMessage[] = [];
  for (const [i, m] of f.messages.entries()) {
    const bytes = hex(m.hex);
    const d = decodeMessage(bytes, ctx, { preserveLayout: true });
    assert.deepEqual(d.problems.map((p) => p.message), [], `${f.peer} message ${i}`);
    assert.equal(toHex(encodeMessage(d.message, ctx)), m.hex, `${f.peer} message ${i} (${d.message.type}) re-encodes byte for byte`);
    if (m.dir === 'in' && d.message.type === 'open') ctx = captureContext(d.message);
    if (m.dir === 'in' && d.message.type === 'update') updates.push(d.message);
  }
  return updates;
}

function checkContent(f: CaptureFixture, updates: readonly UpdateMessage[]): void {
  const peerAs = PEER_AS[f.peer] as number;
  const seen = new Set<string>();
  for (const u of updates) {
    const v4 = u.nlri, v6 = u.mpReach?.nlri ?? [];
    if (v4.length === 0 && v6.length === 0) continue;
    const a = u.attributes;
    assert.equal(formatAsPath(a.asPath), String(peerAs));
    assert.equal(a.origin, 0);
    assert.equal(a.med, 50);
    assert.ok((a.communities ?? []).map(formatCommunity).includes(`${peerAs}:100`), `${f.peer} communities`);
    assert.deepEqual((a.largeCommunities ?? []).map(formatLargeCommunity), [`${peerAs}:1:2`]);
    assert.deepEqual((a.extendedCommunities ?? []).map(formatExtendedCommunity), [`rt:${peerAs}:7`]);
    if (v4.length > 0) assert.equal(formatAddress(a.nextHop ?? new Uint8Array(4)), '10.0.0.2');
    if (v6.length > 0) assert.match(formatAddress(u.mpReach?.nextHops[0] ?? new Uint8Array(16)), /^(fd00::2|::ffff:10\.0\.0\.2)$/);
    for (const n of [...v4, ...v6]) {
      seen.add(formatPrefix(n.prefix));
      if (formatPrefix(n.prefix) === '198.51.100.0/24') assert.ok(a.communities?.map(formatCommunity).includes('no-export'), 'no-export on 198.51.100.0/24');
    }
  }
  assert.deepEqual([...seen].sort(), [...f.expectedPrefixes].sort());
}

for (const name of ['bird', 'frr', 'gobgp']) {
  test(`interop fixture: ${name} messages decode and re-encode byte for byte`, () => {
    const f = load(name);
    const open = decodeMessage(hex(f.messages.find((m) => m.dir === 'in')?.hex ?? ''), INITIAL_CONTEXT).message;
    assert.equal(open.type, 'open');
    if (open.type === 'open') {
      assert.ok(open.capabilities.some((c) => c.type === 'four-octet-as' && c.asn === PEER_AS[name]));
      assert.ok(open.capabilities.some((c) => c.type === 'multiprotocol' && c.afi === 2 && c.safi === 1));
    }
    checkContent(f, replay(f));
  });
}

const skip = topologySkipReason('bird');
test('live: capture from a real BIRD in namespaces decodes with the same content', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const f = await capture('bird');
  checkContent(f, replay(f));
});
