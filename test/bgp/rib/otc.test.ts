/** RFC 9234 §5 OTC procedures by our role (otc.ts), as tables: every role with and without OTC, a peer's OTC equal or not to its AS. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { otcEgress, otcIngressLeak, otcIngressMark } from '../../../bgp/rib/otc.js';
import type { BgpRole } from '../../../bgp/wire/role.js';

const PEER_AS = 65010, OUR_AS = 65020;
const withOtc = (v: number) => ({ onlyToCustomer: v });

it('ingress: leak from customers / RS clients with OTC and from peers with a foreign OTC; OTC added from providers, peers, RS', () => {
  // [our role, leak with OTC = peer AS, leak with OTC = other AS, OTC added when absent]
  const table: Array<[BgpRole, boolean, boolean, boolean]> = [
    ['provider', true, true, false], ['rs', true, true, false],
    ['customer', false, false, true], ['rs-client', false, false, true], ['peer', false, true, true],
  ];
  for (const [role, leakOwn, leakOther, marks] of table) {
    assert.equal(otcIngressLeak(role, withOtc(PEER_AS), PEER_AS), leakOwn, `${role}: OTC = peer AS`);
    assert.equal(otcIngressLeak(role, withOtc(1), PEER_AS), leakOther, `${role}: OTC = another AS`);
    assert.equal(otcIngressLeak(role, {}, PEER_AS), false, `${role}: no OTC is never a leak`);
    assert.equal(otcIngressMark(role, {}, PEER_AS).onlyToCustomer, marks ? PEER_AS : undefined, `${role}: mark`);
    assert.equal(otcIngressMark(role, withOtc(1), PEER_AS).onlyToCustomer, 1, `${role}: an OTC present is kept`);
  }
  assert.equal(otcIngressLeak(undefined, withOtc(1), PEER_AS), false, 'no role: OTC passes');
});

it('egress: not to providers / peers / RS with OTC; OTC = our AS added towards customers, peers, RS clients', () => {
  // [our role, sent with OTC, OTC added when absent]
  const table: Array<[BgpRole, boolean, boolean]> = [
    ['customer', false, false], ['rs-client', false, false], ['peer', false, true], ['provider', true, true], ['rs', true, true],
  ];
  for (const [role, sendsOtc, adds] of table) {
    assert.equal(otcEgress(role, withOtc(1), OUR_AS) !== undefined, sendsOtc, `${role}: route with OTC`);
    assert.equal(otcEgress(role, {}, OUR_AS)?.onlyToCustomer, adds ? OUR_AS : undefined, `${role}: route without OTC`);
  }
  assert.deepEqual(otcEgress(undefined, withOtc(1), OUR_AS), withOtc(1));
});
