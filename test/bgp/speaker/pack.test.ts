/**
 * pack.ts against bgp/wire's decoder: UPDATEs assembled from shared NLRI blobs (announce and
 * withdraw, IPv4 classic and IPv6 MP_REACH/MP_UNREACH, with skipped entries, split at the
 * 4096-byte limit) decode to exactly the selected prefixes with the prepared attributes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix, parsePrefix, type Prefix } from '../../../common/prefix.js';
import { PrefixList } from '../../../bgp/rib/prefix-list.js';
import { addPathSend, nlriBlob, UpdateAssembler } from '../../../bgp/speaker/pack.js';
import { MessageFramer } from '../../../bgp/wire/framer.js';
import { decodeMessage } from '../../../bgp/wire/message.js';
import { prepareAttributes } from '../../../bgp/wire/update-encoder.js';
import { INITIAL_CONTEXT, type CodecContext, type UpdateMessage } from '../../../bgp/wire/types.js';

const ctx: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true };

function decodeAll(buf: Uint8Array | undefined): UpdateMessage[] {
  if (!buf) return [];
  const f = new MessageFramer(() => ctx);
  f.push(buf);
  const out: UpdateMessage[] = [];
  for (let m = f.next(); m !== undefined; m = f.next()) {
    assert.ok(m.length <= 4096, `message of ${m.length} bytes`);
    const d = decodeMessage(m, ctx);
    assert.equal(d.problems.length, 0, d.problems.map((p) => p.message).join('; '));
    if (d.message.type === 'update') out.push(d.message);
  }
  return out;
}

const v4 = (n: number, len: number): Prefix => ({ family: 4, bytes: Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255), length: len });

describe('pack.ts UpdateAssembler', () => {
  it('announces and withdraws exactly the selected prefixes of both families (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ v6: fc.boolean(), n: fc.nat(), len: fc.integer({ min: 0, max: 32 }) }), { minLength: 1, maxLength: 1500 }),
      fc.array(fc.nat(1499), { maxLength: 50 }),
      (raw, skipIdx) => {
        const list = new PrefixList(4);
        const prefixes: Prefix[] = [];
        for (const r of raw) {
          const masked = r.len === 0 ? 0 : (r.n >>> (32 - r.len)) << (32 - r.len) >>> 0;
          const p = r.v6 ? parsePrefix(`2001:db8:${(r.n & 0xffff).toString(16)}::/48`) : v4(masked, r.len);
          prefixes.push(p);
          list.push(p);
        }
        const idx = prefixes.map((_p, i) => i);
        const skip = new Uint32Array(prefixes.length);
        for (const i of skipIdx) if (i < prefixes.length) skip[i] = 7;
        const want = (fam: 4 | 6) => prefixes.filter((p, i) => p.family === fam && skip[i] !== 7).map(formatPrefix).sort();
        const attrs = { origin: 0 as const, asPath: [{ type: 2 as const, asns: [65000, 65001] }], communities: [1, 2, 3] };
        const asm = new UpdateAssembler(ctx);
        const prep4 = prepareAttributes({ afi: 1, safi: 1 }, attrs, Uint8Array.of(192, 0, 2, 1), ctx);
        const prep6 = prepareAttributes({ afi: 2, safi: 1 }, attrs, parsePrefix('2001:db8::1/128').bytes, ctx);
        asm.add(nlriBlob(list, idx, 4, addPathSend(ctx, 4)), idx, 4, prep4, skip, 7);
        asm.add(nlriBlob(list, idx, 6, addPathSend(ctx, 6)), idx, 6, prep6, skip, 7);
        const fresh = asm.finish();
        // into a reused buffer full of old bytes: the same bytes (every byte is written), in that buffer
        const dirty = new Uint8Array(asm.byteLength + 7).fill(0xaa);
        const reused = asm.finish(dirty);
        assert.deepEqual(reused, fresh);
        // every prefix skipped: no message, so nothing is written into the buffer either
        if (fresh !== undefined) assert.equal(reused?.buffer, dirty.buffer);
        const ann = decodeAll(fresh);
        assert.equal(ann.length, asm.messages);
        assert.deepEqual(ann.flatMap((u) => u.nlri.map((n) => formatPrefix(n.prefix))).sort(), want(4));
        assert.deepEqual(ann.flatMap((u) => (u.mpReach?.nlri ?? []).map((n) => formatPrefix(n.prefix))).sort(), want(6));
        for (const u of ann) assert.deepEqual(u.attributes.communities, [1, 2, 3]);
        const wd = new UpdateAssembler(ctx);
        wd.add(nlriBlob(list, idx, 4, false), idx, 4, undefined, skip, 7);
        wd.add(nlriBlob(list, idx, 6, false), idx, 6, undefined, skip, 7);
        const wFresh = wd.finish();
        assert.deepEqual(wd.finish(new Uint8Array(wd.byteLength).fill(0x55)), wFresh);
        const w = decodeAll(wFresh);
        assert.deepEqual(w.flatMap((u) => u.withdrawn.map((n) => formatPrefix(n.prefix))).sort(), want(4));
        assert.deepEqual(w.flatMap((u) => (u.mpUnreach?.withdrawn ?? []).map((n) => formatPrefix(n.prefix))).sort(), want(6));
      }), { numRuns: 60, examples: [[[{ v6: false, n: 0, len: 0 }], [0]]] });
  });
});
