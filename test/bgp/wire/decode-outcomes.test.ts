/**
 * bgp/wire decoding through the tests' adapter (test/helpers/bgp-codec.ts): the RFC 7606 outcomes the speaker relies on
 * (robustness.md §1.3), session-level errors, round trips of batched UPDATEs, and "arbitrary
 * bytes never throw anything but BgpWireError".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BgpWireError } from '../../../bgp/wire/errors.js';
import { INITIAL_CONTEXT, type PathAttributes, type UpdateMessage } from '../../../bgp/wire/types.js';
import { decodeMessage, encodeAnnounce, encodeEndOfRib, encodeWithdraw, Framer } from '../../helpers/bgp-codec.js';
import { formatPrefix, parseAddress, parsePrefix } from '../../../common/prefix.js';

const EBGP = { ...INITIAL_CONTEXT, fourOctetAs: true };
const IBGP = { ...EBGP, ibgp: true };

/** UPDATE with ORIGIN, AS_PATH [65001], NEXT_HOP 10.0.0.1 + `extra`, NLRI 10.7.0.0/24. */
function update(extra: number[], base = true): Buffer {
  const attrs = [...(base ? [0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, 0x40, 3, 4, 10, 0, 0, 1] : []), ...extra];
  const body = [0, 0, attrs.length >> 8, attrs.length & 0xff, ...attrs, 24, 10, 7, 0];
  const b = Buffer.alloc(19 + body.length, 0xff);
  b.writeUInt16BE(b.length, 16); b[18] = 2; Buffer.from(body).copy(b, 19);
  return b;
}

const TABLE: ReadonlyArray<{ what: string; extra: number[]; base?: boolean; ctx?: typeof EBGP; action: string | undefined; todo?: string }> = [
  { what: 'well-formed', extra: [], action: undefined },
  { what: 'MED length 5', extra: [0x80, 4, 5, 0, 0, 0, 0, 100], action: 'treat-as-withdraw' },
  { what: 'ORIGIN value 5 (duplicate ignored, so as sole ORIGIN)', extra: [0x40, 1, 1, 5, 0x40, 2, 0, 0x40, 3, 4, 10, 0, 0, 1], base: false, action: 'treat-as-withdraw' },
  { what: 'AGGREGATOR length 5', extra: [0xc0, 7, 5, 0, 0, 0, 100, 0], action: 'attribute-discard' },
  { what: 'COMMUNITIES length 3', extra: [0xc0, 8, 3, 0, 0, 100], action: 'treat-as-withdraw' },
  { what: 'COMMUNITIES length 0', extra: [0xc0, 8, 0], action: 'treat-as-withdraw' },
  { what: 'LOCAL_PREF from eBGP', extra: [0x40, 5, 4, 0, 0, 0, 200], action: 'attribute-discard' },
  { what: 'LOCAL_PREF length 3 from iBGP', extra: [0x40, 5, 3, 0, 0, 200], ctx: IBGP, action: 'treat-as-withdraw' },
  { what: 'unknown well-known 101', extra: [0x40, 101, 1, 1], action: 'treat-as-withdraw' }, // robustness.md §1.3, as BIRD
  { what: 'unknown optional transitive 99', extra: [0xc0, 99, 1, 1], action: undefined },
  { what: 'MED with transitive flag', extra: [0xc0, 4, 4, 0, 0, 0, 1], action: 'treat-as-withdraw' },
  { what: 'missing NEXT_HOP', extra: [0x40, 1, 1, 0, 0x40, 2, 0], base: false, action: 'treat-as-withdraw' },
  { what: 'AS_PATH segment type 0', extra: [0x40, 1, 1, 0, 0x40, 2, 6, 0, 1, 0, 0, 0, 1, 0x40, 3, 4, 10, 0, 0, 1], base: false, action: 'treat-as-withdraw' },
  { what: 'attribute overruns the list', extra: [0xc0, 99, 9, 1], action: 'treat-as-withdraw' },
];

describe('codec adapter over bgp/wire: RFC 7606 outcomes', () => {
  for (const c of TABLE) {
    it(c.what, c.todo !== undefined ? { todo: c.todo } : {}, () => {
      const d = decodeMessage(update(c.extra, c.base ?? true), c.ctx ?? EBGP);
      assert.equal(d.action, c.action, JSON.stringify(d.problems));
    });
  }

  it('AGGREGATOR discard drops the attribute and keeps the NLRI', () => {
    const d = decodeMessage(update([0xc0, 7, 5, 0, 0, 0, 100, 0]), EBGP);
    const m = d.message as UpdateMessage;
    assert.equal(m.attributes.aggregator, undefined);
    assert.equal(m.nlri.length, 1);
  });

  it('unknown optional transitive is kept (the speaker sets Partial when passing it on)', () => {
    const m = decodeMessage(update([0xc0, 99, 1, 1]), EBGP).message as UpdateMessage;
    assert.deepEqual(m.attributes.unknown?.map((u) => u.typeCode), [99]);
    const none = decodeMessage(update([0x80, 100, 1, 1]), EBGP).message as UpdateMessage;
    assert.equal(none.attributes.unknown?.some((u) => u.typeCode === 100 && (u.flags & 0x40) !== 0) ?? false, false);
  });

  it('session-level errors carry code and subcode', () => {
    const cases: Array<[Buffer, number, readonly number[]]> = [
      [update([0x80, 14, 2, 0, 1]), 3, [1, 9]], // MP_REACH truncated (BIRD/FRR: 3/1 or 3/9)
      [(() => { const b = update([]); b.writeUInt16BE(200, 19); return b; })(), 3, [1]], // withdrawn length overrun
    ];
    for (const [buf, code, subs] of cases) {
      assert.throws(() => decodeMessage(buf, EBGP), (e: unknown) => e instanceof BgpWireError && e.code === code && subs.includes(e.subcode) && e.action === 'session-reset');
    }
    assert.throws(() => new Framer().push(Buffer.alloc(19, 0)), (e: unknown) => e instanceof BgpWireError && e.code === 1 && e.subcode === 1);
  });

  it('batched announce/withdraw round-trip many NLRI in few messages (v4 and v6)', () => {
    const v4 = Array.from({ length: 2000 }, (_, i) => parsePrefix(`10.${i >> 8}.${i & 255}.0/24`));
    const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: parseAddress('10.0.0.1').bytes };
    const msgs = encodeAnnounce(v4, attrs, EBGP);
    assert.ok(msgs.length <= 3, `2000 /24s in ${msgs.length} UPDATEs`);
    const back = msgs.flatMap((m) => (decodeMessage(m, EBGP).message as UpdateMessage).nlri.map((n) => formatPrefix(n.prefix)));
    assert.deepEqual(back, v4.map(formatPrefix));
    const v6 = [parsePrefix('2001:db8::/48'), parsePrefix('2001:db8:1::/64')];
    const m6 = decodeMessage(encodeAnnounce(v6, { origin: 0, asPath: [] }, EBGP, parseAddress('fd00::1').bytes)[0] ?? Buffer.alloc(0), EBGP).message as UpdateMessage;
    assert.deepEqual(m6.mpReach?.nlri.map((n) => formatPrefix(n.prefix)), ['2001:db8::/48', '2001:db8:1::/64']);
    const w = decodeMessage(encodeWithdraw(v6)[0] ?? Buffer.alloc(0), EBGP).message as UpdateMessage;
    assert.equal(w.mpUnreach?.withdrawn.length, 2);
    const eor = decodeMessage(encodeEndOfRib(1), EBGP).message as UpdateMessage;
    assert.equal(eor.nlri.length + eor.withdrawn.length, 0);
  });

  it('arbitrary UPDATE bodies never throw anything but BgpWireError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (body, ibgp) => {
      const b = Buffer.alloc(19 + body.length, 0xff);
      b.writeUInt16BE(b.length, 16); b[18] = 2; Buffer.from(body).copy(b, 19);
      try { decodeMessage(b, { ...EBGP, ibgp }); } catch (e) { if (!(e instanceof BgpWireError)) throw e; }
    }), { numRuns: 3000 });
  });
});
