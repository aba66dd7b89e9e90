/**
 * RFC 7606 live: ExaBGP sends malformed attributes to tortie-bgpd and, as the oracle, to BIRD
 * (the same command stream goes to both), each batch followed by a sentinel route. The session
 * must stay up (same established-transition count, no NOTIFICATION) for treat-as-withdraw and
 * attribute-discard cases, previously installed routes must be removed on treat-as-withdraw,
 * and each session-reset case must make both send the same NOTIFICATION code (ExaBGP records
 * the NOTIFICATIONs it receives as JSON), drop the session and come back without the bad route.
 *
 *   tortie-bgpd AS65002 10.0.0.2 ──veth── 10.0.0.1 ┐
 *                                                  ├ exabgp AS65001 (ns e; API fed from a file)
 *   bird (oracle) AS65002 10.0.5.2 ──veth── 10.0.5.1 ┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, ExabgpPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('exabgp', 'bird', 'birdc');

/** Each case: the raw attribute ExaBGP adds and what RFC 7606 says happens to the route. */
const CASES = [
  { prefix: '172.30.2.0/24', what: 'MED length 5 (§7.4)', attr: '[0x04 0x80 0x0000000064]', expect: 'withdrawn' },
  { prefix: '172.30.3.0/24', what: 'ORIGIN value 5 (§7.1)', attr: '[0x01 0x40 0x05]', expect: 'withdrawn' },
  { prefix: '172.30.4.0/24', what: 'AGGREGATOR length 5 (§7.7)', attr: '[0x07 0xc0 0x0000006400]', expect: 'kept' },
  { prefix: '172.30.5.0/24', what: 'COMMUNITIES length 3 (§7.8)', attr: '[0x08 0xc0 0x000064]', expect: 'withdrawn' },
  { prefix: '172.30.6.0/24', what: 'unknown optional transitive 99', attr: '[0x63 0xc0 0x01020304]', expect: 'kept' },
  { prefix: '172.30.7.0/24', what: 'unknown optional non-transitive 100', attr: '[0x64 0x80 0x01]', expect: 'kept' },
  // Unknown well-known (optional bit clear): its own test below (it needs a fresh sentinel).
  { prefix: '172.30.9.0/24', what: 'COMMUNITIES length 0 (§7.8)', attr: '[0x08 0xc0 0x]', expect: 'withdrawn' },
  { prefix: '172.30.10.0/24', what: 'ATOMIC_AGGREGATE length 1 (§7.6)', attr: '[0x06 0x40 0x01]', expect: 'kept' },
  { prefix: '172.30.11.0/24', what: 'LOCAL_PREF from an eBGP peer (§7.5)', attr: '[0x05 0x40 0x000000c8]', expect: 'kept' },
  { prefix: '172.30.12.0/24', what: 'MED flagged transitive: flags conflict (§3c)', attr: '[0x04 0xc0 0x00000064]', expect: 'withdrawn' },
  { prefix: '172.30.13.0/24', what: 'EXTENDED_COMMUNITIES length 5 (§7.14)', attr: '[0x10 0xc0 0x0000000001]', expect: 'withdrawn' },
  { prefix: '172.30.14.0/24', what: 'LARGE_COMMUNITY length 5 (RFC 8092 §6)', attr: '[0x20 0xc0 0x0000000001]', expect: 'withdrawn' },
  { prefix: '172.30.15.0/24', what: 'AGGREGATOR with AS 0 (RFC 7607)', attr: '[0x07 0xc0 0x000000000a000001]', expect: 'kept' },
] as const;

/** Session-reset cases (RFC 7606 §7.11: the AFI/SAFI cannot be trusted), sent one at a time. */
const RESETS = [
  { prefix: '172.30.50.0/24', what: 'truncated MP_REACH_NLRI', attr: '[0x0e 0x80 0x0001]' },
  { prefix: '172.30.51.0/24', what: 'truncated MP_UNREACH_NLRI', attr: '[0x0f 0x80 0x0001]' },
] as const;

const TORTIE = `routerId: 10.0.0.2
asn: 65002
listen: { address: 0.0.0.0, port: 179 }
peers:
  - { name: exa, address: 10.0.0.1, asn: 65001, holdTime: 30 }
`;

const BIRD = `router id 10.0.5.2;
protocol device {}
protocol bgp exa { local 10.0.5.2 as 65002; neighbor 10.0.5.1 as 65001; ipv4 { import all; export none; };
  connect delay time 1; connect retry time 1; error wait time 3, 6; }
`;

/**
 * ExaBGP's API process: commands come from `cmdFile` (appended to by the test); what ExaBGP
 * reports (JSON, one message a line: the NOTIFICATIONs it receives) goes to `received`.
 */
function exaConf(script: string): string {
  const n = (addr: string, local: string, id: string) => `neighbor ${addr} {
  router-id ${id}; local-address ${local}; local-as 65001; peer-as 65002; hold-time 30;
  family { ipv4 unicast; }
  api { processes [ cmds ]; receive { parsed; notification; } }
}
`;
  return `process cmds {
  run ${script};
  encoder json;
}
${n('10.0.0.2', '10.0.0.1', '10.0.0.1')}${n('10.0.5.2', '10.0.5.1', '10.0.0.1')}`;
}

interface ExaMessage {
  type?: string;
  neighbor?: { address?: { peer?: string }; notification?: { code?: number; subcode?: number; data?: string } };
}

describe('interop: RFC 7606 malformed attributes from ExaBGP (BIRD as oracle)', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('exa');
  let t: TortieBgpd, bird: BirdPeer, exa: ExabgpPeer, cmdFile: string, receivedFile: string;
  /** NOTIFICATIONs ExaBGP received from `peer` (10.0.0.2 = tortie, 10.0.5.2 = BIRD). */
  const notificationsTo = (peer: string) => readFileSync(receivedFile, 'utf8').split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ExaMessage).filter((m) => m.type === 'notification' && m.neighbor?.address?.peer === peer)
    .map((m) => ({ code: m.neighbor?.notification?.code, subcode: m.neighbor?.notification?.subcode }));
  const send = (...lines: string[]) => appendFileSync(cmdFile, lines.map((l) => `${l}\n`).join(''));
  const ours = async (prefix: string) => (await t.routes(prefix)).filter((r) => r.from === 'exa');
  const theirs = (prefix: string) => bird.routes(prefix).filter((r) => r.proto === 'exa');

  before(async () => {
    const nsE = topo.ns('e'), nsT = topo.ns('t'), nsB = topo.ns('b');
    topo.link(nsE, 'veE1', '10.0.0.1/24', nsT, 'veT', '10.0.0.2/24');
    topo.link(nsE, 'veE2', '10.0.5.1/24', nsB, 'veB', '10.0.5.2/24');
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
    bird = await BirdPeer.start(topo, nsB, BIRD);
    cmdFile = join(t.dir, 'exa-cmds');
    receivedFile = join(t.dir, 'exa-received.jsonl');
    writeFileSync(cmdFile, '');
    writeFileSync(receivedFile, '');
    const script = join(t.dir, 'exa-api.sh');
    // ExaBGP's stdin goes to fd 3 first: a background job's own stdin is /dev/null.
    writeFileSync(script, `#!/bin/sh\nexec 3<&0\ncat <&3 >> ${receivedFile} &\nexec /usr/bin/tail -n +1 -F ${cmdFile} 3<&-\n`);
    chmodSync(script, 0o755);
    exa = await ExabgpPeer.start(topo, nsE, exaConf(script));
    await pollUntil(async () => (await t.peer('exa')).state === 'Established' && bird.protocol('exa').bgpState === 'Established',
      { what: 'ExaBGP sessions Established', timeoutMs: 20_000 });
  });
  after(async () => {
    if (process.env['TORTIE_TEST_DEBUG']) writeFileSync(process.env['TORTIE_TEST_DEBUG'], exa.log() + readFileSync(receivedFile, 'utf8'));
    await topo.cleanup();
  });

  it('installs well-formed routes first (so treat-as-withdraw has something to remove)', async () => {
    send(...CASES.map((c) => `announce route ${c.prefix} next-hop self`), 'announce route 172.30.99.0/24 next-hop self');
    await pollUntil(async () => (await ours('172.30.99.0/24')).length === 1 && theirs('172.30.99.0/24').length === 1, { what: 'sentinel 1' });
    for (const c of CASES) assert.equal((await ours(c.prefix)).length, 1, `${c.prefix} installed`);
  });

  it('handles each malformed attribute per RFC 7606 without resetting the session, agreeing with BIRD', async () => {
    const before = await t.peer('exa');
    const logMark = exa.log().length;
    const notes0 = [notificationsTo('10.0.0.2').length, notificationsTo('10.0.5.2').length];
    send(...CASES.map((c) => `announce route ${c.prefix} next-hop self attribute ${c.attr}`), 'announce route 172.30.98.0/24 next-hop self');
    await pollUntil(async () => (await ours('172.30.98.0/24')).length === 1 && theirs('172.30.98.0/24').length === 1, { what: 'sentinel 2' });
    const disagreements: string[] = [];
    for (const c of CASES) {
      const us = (await ours(c.prefix)).length === 1 ? 'kept' : 'withdrawn';
      const oracle = theirs(c.prefix).length === 1 ? 'kept' : 'withdrawn';
      assert.equal(us, c.expect, `${c.what}: ${c.prefix} should be ${c.expect}`);
      if (us !== oracle) disagreements.push(`${c.what}: tortie ${us}, BIRD ${oracle}`);
    }
    const after = await t.peer('exa');
    assert.equal(after.state, 'Established');
    assert.equal(after.establishedTransitions, before.establishedTransitions, 'no session reset');
    assert.equal(bird.protocol('exa').bgpState, 'Established');
    assert.doesNotMatch(exa.log().slice(logMark), /closing connection|lost TCP session/, 'ExaBGP kept both sessions');
    assert.deepEqual([notificationsTo('10.0.0.2').length, notificationsTo('10.0.5.2').length], notes0, 'no NOTIFICATION from either');
    // The LOCAL_PREF an eBGP peer sent was discarded, not used.
    assert.notEqual((await ours('172.30.11.0/24'))[0]?.localPref, 200);
    assert.equal(theirs('172.30.11.0/24')[0]?.attrs['BGP.local_pref'], '100');
    // The discarded AGGREGATOR is gone, the route kept (BIRD shows no BGP.aggregator either).
    assert.equal(theirs('172.30.4.0/24')[0]?.attrs['BGP.aggregator'], undefined);
    assert.deepEqual(disagreements, [], 'tortie and BIRD made the same decisions');
  });

  for (const c of RESETS) {
    it(`resets the session on a ${c.what}, with the same NOTIFICATION as BIRD, and comes back without the route`, async () => {
      const n0 = (await t.peer('exa')).establishedTransitions;
      const since0 = (await ours('172.30.98.0/24'))[0]?.since ?? 0;
      const [ourNotes, birdNotes] = [notificationsTo('10.0.0.2').length, notificationsTo('10.0.5.2').length];
      send(`announce route ${c.prefix} next-hop self attribute ${c.attr}`);
      const [ours0, bird0] = await pollUntil(() => {
        const [a, b] = [notificationsTo('10.0.0.2')[ourNotes], notificationsTo('10.0.5.2')[birdNotes]];
        return a && b ? [a, b] as const : undefined;
      }, { what: 'ExaBGP received a NOTIFICATION from tortie and from BIRD' });
      assert.equal(ours0.code, 3, `UPDATE Message Error from tortie, got ${JSON.stringify(ours0)}`);
      assert.deepEqual(ours0, bird0, 'tortie and BIRD sent the same NOTIFICATION code/subcode');
      assert.match((await t.peer('exa')).lastError ?? '', /Error: /);
      assert.notEqual(bird.protocol('exa').lastError, undefined);
      // Take the bad route back while both sessions are down, so they come back clean.
      send(`withdraw route ${c.prefix} next-hop self attribute ${c.attr}`);
      await pollUntil(async () => { const p = await t.peer('exa'); return p.state === 'Established' && p.establishedTransitions > n0; },
        { what: 'tortie session back', timeoutMs: 20_000 });
      await pollUntil(() => bird.protocol('exa').bgpState === 'Established', { what: 'BIRD session back', timeoutMs: 20_000 });
      // The reset dropped ExaBGP's routes and the new session learnt the good ones again (a later
      // `since`), and neither has the bad one.
      await pollUntil(async () => ((await ours('172.30.98.0/24'))[0]?.since ?? 0) > since0 && theirs('172.30.98.0/24').length === 1, { what: 'good routes re-learnt' });
      assert.equal((await ours(c.prefix)).length, 0);
      assert.equal(theirs(c.prefix).length, 0);
    });
  }

  // BIRD (and robustness.md §1.3) treat an unknown attribute with the Optional bit clear as
  // withdraw rather than RFC 4271's 3/2 reset; so do we.
  it('unknown well-known attribute 101: treat-as-withdraw like BIRD', async () => {
    const n0 = (await t.peer('exa')).establishedTransitions;
    const ourNotes = notificationsTo('10.0.0.2').length;
    send('announce route 172.30.60.0/24 next-hop self attribute [0x65 0x40 0x01]', 'announce route 172.30.97.0/24 next-hop self');
    try {
      await pollUntil(async () => theirs('172.30.97.0/24').length === 1
        && ((await ours('172.30.97.0/24')).length === 1 || notificationsTo('10.0.0.2').length > ourNotes), { what: 'sentinel 3 at BIRD, and at tortie or a NOTIFICATION from it' });
      assert.equal(theirs('172.30.60.0/24').length, 0, 'BIRD treated it as withdraw');
      assert.equal(bird.protocol('exa').bgpState, 'Established');
      assert.equal((await ours('172.30.60.0/24')).length, 0);
      assert.equal(notificationsTo('10.0.0.2').length, ourNotes, 'no NOTIFICATION from tortie');
      assert.equal((await t.peer('exa')).establishedTransitions, n0);
    } finally {
      send('withdraw route 172.30.60.0/24 next-hop self attribute [0x65 0x40 0x01]');
    }
  });

  // RFC 7606 §7.11: an MP_REACH_NLRI next hop length that fits no form means the NLRI cannot be
  // located: session reset (BIRD: 3/9) or AFI/SAFI disable, which per RFC 4760 §7 drops every route
  // of that family from the peer for the rest of the session. bgp/wire says afi-safi-disable and the
  // speaker drops the family for the session.
  it('MP_REACH_NLRI next hop length 5: reset like BIRD, or disable IPv4 unicast for the session', async () => {
    const attr = '[0x0e 0x80 0x000101050a000001010018ac1e34]'; // IPv4 unicast, next hop length 5, NLRI 172.30.52.0/24
    const [ourNotes, birdNotes] = [notificationsTo('10.0.0.2').length, notificationsTo('10.0.5.2').length];
    await pollUntil(async () => (await ours('172.30.98.0/24')).length === 1, { what: 'an IPv4 route from ExaBGP at tortie' });
    send(`announce route 172.30.53.0/24 next-hop self attribute ${attr}`);
    try {
      const birdSaid = await pollUntil(() => notificationsTo('10.0.5.2')[birdNotes], { what: 'BIRD reset the session' });
      assert.equal(birdSaid.code, 3);
      const reset = async () => notificationsTo('10.0.0.2').length > ourNotes;
      const disabled = async () => (await t.peer('exa')).state === 'Established' && (await ours('172.30.98.0/24')).length === 0;
      await pollUntil(async () => (await reset()) || (await disabled()), { what: 'tortie reset the session or dropped every IPv4 route of exa', timeoutMs: 3000 });
    } finally {
      send(`withdraw route 172.30.53.0/24 next-hop self attribute ${attr}`);
    }
  });
});
