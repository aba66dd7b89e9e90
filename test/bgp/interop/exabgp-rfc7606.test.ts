/**
 * RFC 7606 live: ExaBGP sends malformed attributes to tortie-bgpd and, as the oracle, to BIRD
 * (the same command stream goes to both), each batch followed by a sentinel route. The session
 * must stay up (same established-transition count, no NOTIFICATION) for treat-as-withdraw and
 * attribute-discard cases, previously installed routes must be removed on treat-as-withdraw,
 * and a session-reset case must produce a NOTIFICATION on both.
 *
 *   tortie-bgpd AS65002 10.0.0.2 ──veth── 10.0.0.1 ┐
 *                                                  ├ exabgp AS65001 (ns e; API fed from a file)
 *   bird (oracle) AS65002 10.0.5.2 ──veth── 10.0.5.1 ┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, ExabgpPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('exabgp', 'bird', 'birdc');

/** Each case: the raw attribute ExaBGP adds and what RFC 7606 says happens to the route. */
const CASES = [
  { prefix: '172.30.2.0/24', what: 'MED length 5', attr: '[0x04 0x80 0x0000000064]', expect: 'withdrawn' },
  { prefix: '172.30.3.0/24', what: 'ORIGIN value 5', attr: '[0x01 0x40 0x05]', expect: 'withdrawn' },
  { prefix: '172.30.4.0/24', what: 'AGGREGATOR length 5', attr: '[0x07 0xc0 0x0000006400]', expect: 'kept' },
  { prefix: '172.30.5.0/24', what: 'COMMUNITIES length 3', attr: '[0x08 0xc0 0x000064]', expect: 'withdrawn' },
  { prefix: '172.30.6.0/24', what: 'unknown optional transitive 99', attr: '[0x63 0xc0 0x01020304]', expect: 'kept' },
  { prefix: '172.30.7.0/24', what: 'unknown optional non-transitive 100', attr: '[0x64 0x80 0x01]', expect: 'kept' },
  // Not sent live: unknown well-known (optional bit clear) is TaW for BIRD and robustness.md §1.3,
  // but bgp/wire resets the session (3/2); pinned as a todo in test/bgp/speaker/codec.test.ts.
  { prefix: '172.30.9.0/24', what: 'COMMUNITIES length 0', attr: '[0x08 0xc0 0x]', expect: 'withdrawn' },
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
  connect delay time 1; connect retry time 1; error wait time 30, 60; }
`;

function exaConf(cmdFile: string): string {
  const n = (addr: string, local: string, id: string) => `neighbor ${addr} {
  router-id ${id}; local-address ${local}; local-as 65001; peer-as 65002; hold-time 30;
  family { ipv4 unicast; }
  api { processes [ cmds ]; }
}
`;
  return `process cmds {
  run /usr/bin/tail -n +1 -F ${cmdFile};
  encoder text;
}
${n('10.0.0.2', '10.0.0.1', '10.0.0.1')}${n('10.0.5.2', '10.0.5.1', '10.0.0.1')}`;
}

describe('interop: RFC 7606 malformed attributes from ExaBGP (BIRD as oracle)', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('exa');
  let t: TortieBgpd, bird: BirdPeer, exa: ExabgpPeer, cmdFile: string;
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
    writeFileSync(cmdFile, '');
    exa = await ExabgpPeer.start(topo, nsE, exaConf(cmdFile));
    await pollUntil(async () => (await t.peer('exa')).state === 'Established' && bird.protocol('exa').bgpState === 'Established',
      { what: 'ExaBGP sessions Established', timeoutMs: 20_000 });
  });
  after(async () => {
    if (process.env['TORTIE_TEST_DEBUG']) process.stderr.write(exa.log());
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
    // The discarded AGGREGATOR is gone, the route kept (BIRD shows no BGP.aggregator either).
    assert.equal(theirs('172.30.4.0/24')[0]?.attrs['BGP.aggregator'], undefined);
    assert.deepEqual(disagreements, [], 'tortie and BIRD made the same decisions');
  });

  it('resets the session on a truncated MP_REACH_NLRI, like BIRD', async () => {
    const n0 = (await t.peer('exa')).establishedTransitions;
    send('announce route 172.30.50.0/24 next-hop self attribute [0x0e 0x80 0x0001]');
    await pollUntil(async () => /MP_REACH_NLRI/.test((await t.peer('exa')).lastError ?? ''), { what: 'tortie reset the session' });
    await pollUntil(() => /Error: Malformed attribute list|Error: .*(attribute|UPDATE)/i.test(bird.protocol('exa').lastError ?? ''), { what: 'BIRD reset the session too' });
    await pollUntil(() => /closing connection|lost TCP session/.test(exa.log()), { what: 'ExaBGP saw its sessions closed' });
    assert.ok((await t.peer('exa')).establishedTransitions >= n0);
  });
});
