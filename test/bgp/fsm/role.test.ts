/** RFC 9234 §4.2 role pairing (role-check.ts) and the role capability in our OPEN (negotiate.ts). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { checkRole } from '../../../bgp/fsm/role-check.js';
import { buildLocalOpen } from '../../../bgp/fsm/negotiate.js';
import { toFsmConfig } from '../../../bgp/session/session-config.js';
import { roleCapability, type BgpRole } from '../../../bgp/wire/role.js';
import type { OpenMessage } from '../../../bgp/wire/types.js';

const PEER_AS = 65010, OUR_AS = 65020;

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
