/**
 * RFC 9234 §5 OTC procedures by our role (otc.ts), and §4.2 role pairing (role-check.ts), as
 * tables: every role with and without OTC, a peer's OTC equal or not to its AS.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { otcEgress, otcIngressLeak, otcIngressMark } from '../../../bgp/rib/otc.js';
import { checkRole } from '../../../bgp/fsm/role-check.js';
import { roleCapability, type BgpRole } from '../../../bgp/wire/role.js';
import type { OpenMessage } from '../../../bgp/wire/types.js';
import { toFsmConfig } from '../../../bgp/session/session-config.js';
import { buildLocalOpen } from '../../../bgp/fsm/negotiate.js';

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

it('role pairing: provider-customer, rs-rs-client, peer-peer; differing, unknown or (strict) missing roles → 2/11', () => {
  const open = (...roles: number[]): OpenMessage => ({ type: 'open', version: 4, myAs: PEER_AS, holdTime: 90, bgpId: 1,
    capabilities: roles.map((r) => ({ type: 'unknown' as const, code: 9, value: Uint8Array.of(r) })) });
  const code = (e: ReturnType<typeof checkRole>) => (e ? [e.code, e.subcode] : 'ok');
  const pairs: Array<[BgpRole, BgpRole]> = [['provider', 'customer'], ['customer', 'provider'], ['rs', 'rs-client'], ['rs-client', 'rs'], ['peer', 'peer']];
  for (const [ours, theirs] of pairs) {
    const cap = roleCapability(theirs);
    assert.equal(code(checkRole({ local: ours, strict: true }, { ...open(), capabilities: [cap] })), 'ok', `${ours} with ${theirs}`);
    assert.deepEqual(code(checkRole({ local: ours, strict: false }, open(ours === 'peer' ? 0 : 4))), [2, 11], `${ours} with a wrong role`);
  }
  assert.deepEqual(code(checkRole({ local: 'customer', strict: false }, open(0, 3))), [2, 11], 'two different roles');
  assert.deepEqual(code(checkRole({ local: 'customer', strict: false }, open(7))), [2, 11], 'unknown role value');
  assert.equal(code(checkRole({ local: 'customer', strict: false }, open())), 'ok', 'no role, not strict');
  assert.deepEqual(code(checkRole({ local: 'customer', strict: true }, open())), [2, 11], 'no role, strict');
  assert.equal(code(checkRole(undefined, open(4))), 'ok', 'no local role: theirs is ignored');
});

it('our OPEN carries the role capability (9) on eBGP only', () => {
  const cfg = (peerAs: number) => toFsmConfig({ peerAddress: '192.0.2.1', localAs: OUR_AS, peerAs, routerId: '192.0.2.2', role: { local: 'customer', strict: false } }, 'test');
  const roles = (peerAs: number) => buildLocalOpen(cfg(peerAs)).capabilities.filter((c) => c.type === 'unknown' && c.code === 9).map((c) => (c.type === 'unknown' ? Array.from(c.value) : []));
  assert.deepEqual(roles(PEER_AS), [[3]]);
  assert.deepEqual(roles(OUR_AS), [], 'not on iBGP (RFC 9234 roles are for eBGP)');
});
