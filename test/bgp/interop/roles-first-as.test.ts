/**
 * RFC 9234 roles and OTC, and enforce-first-AS: tortie-bgpd against FRR 8 (`local-role ...
 * [strict-mode]`) and ExaBGP, checked on FRR's own view (`show bgp neighbors json`, the route's
 * otc) and on ours.
 *
 *   up    FRR AS65001 (ns u) 10.62.1.1 ─── 10.62.1.2 ┐  up: local-role provider strict-mode (we: customer)
 *   down  FRR AS65003 (ns d) 10.62.2.1 ─── 10.62.2.2 ├ tortie-bgpd AS65002 (ns t)   down: local-role customer (we: provider)
 *         FRR AS65003 (ns d) 10.62.3.1 ─── 10.62.3.2 ┤  odd: local-role peer strict-mode (we: customer): Role Mismatch
 *   exa   ExaBGP AS65004 (ns e) 10.62.4.1 ─ 10.62.4.2 ┘  no roles; a path not starting with 65004, an OTC from a customer
 *
 * up's route crosses us to down with OTC 65001 (added by our ingress from a provider); our own
 * route reaches down with OTC 65002 (our egress towards a customer) and up without one; down's
 * route reaches up. odd never comes up: both sides say Role Mismatch (2/11). Policy on down's
 * import: a route tagged rt:65003:* loses rt:65003:1 and its large community *:*:9, gains
 * soo:65002:7 and 65002:0:1 (up's view shows what is left).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { ExabgpPeer, FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('vtysh', '/usr/lib/frr/bgpd', 'exabgp');

const frrConf = (host: string, asn: number, id: string, neighbors: ReadonlyArray<{ addr: string; role: string }>, network: string, log = '') => `frr defaults datacenter
hostname ${host}
${log ? `log file ${log} debugging\ndebug bgp neighbor-events` : ''}
router bgp ${asn}
 bgp router-id ${id}
 no bgp ebgp-requires-policy
 no bgp network import-check
${neighbors.map((n) => ` neighbor ${n.addr} remote-as 65002
 neighbor ${n.addr} timers connect 1
 neighbor ${n.addr} local-role ${n.role}`).join('\n')}
 address-family ipv4 unicast
  network ${network} route-map TAG
${neighbors.map((n) => `  neighbor ${n.addr} activate`).join('\n')}
 exit-address-family
route-map TAG permit 10
 set extcommunity rt ${asn}:1 ${asn}:2
 set large-community ${asn}:0:9
`;

const TORTIE = `routerId: 10.62.0.2
asn: 65002
listen: { address: 0.0.0.0, port: 179 }
warmUp: false
peers:
  - { name: up, address: 10.62.1.1, asn: 65001, connectRetry: 1, localRole: customer, roleStrict: true }
  - name: down
    address: 10.62.2.1
    asn: 65003
    connectRetry: 1
    localRole: provider
    import:
      rules:
        - match: { extendedCommunities: ["rt:65003:*"] }
          set: { extendedCommunities: { remove: ["rt:65003:1"], add: ["soo:65002:7"] }, largeCommunities: { remove: ["*:*:9"], add: ["65002:0:1"] } }
      default: accept
  - { name: odd, address: 10.62.3.1, asn: 65003, connectRetry: 1, localRole: customer }
  - { name: exa, address: 10.62.4.1, asn: 65004, connectRetry: 1, localRole: provider }
originate:
  - { prefix: 10.72.0.0/24 }
`;

const EXA = (script: string) => `process cmds {
  run ${script};
  encoder json;
}
neighbor 10.62.4.2 {
  router-id 10.62.4.1; local-address 10.62.4.1; local-as 65004; peer-as 65002; hold-time 30;
  family { ipv4 unicast; }
  api { processes [ cmds ]; }
}
`;

interface FrrNeighbor {
  bgpState?: string; localRole?: string; remoteRole?: string;
  lastNotificationReason?: string; lastResetDueTo?: string; lastErrorCodeSubcode?: string;
}
interface FrrPath {
  peer?: { peerId?: string }; otc?: number; aspath?: { string?: string };
  extendedCommunity?: { string?: string }; largeCommunity?: { string?: string };
}

describe('interop: RFC 9234 roles and OTC with FRR, enforce-first-AS with ExaBGP', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('role');
  let t: TortieBgpd, up: FrrPeer, down: FrrPeer, cmdFile: string, downLog: string;
  const neighbor = (f: FrrPeer, addr: string) => (f.json(`show bgp neighbors ${addr} json`) as Record<string, FrrNeighbor>)[addr] ?? {};
  const paths = (f: FrrPeer, prefix: string) => (f.json(`show bgp ipv4 unicast ${prefix} json`) as { paths?: FrrPath[] }).paths ?? [];
  const send = (...lines: string[]) => appendFileSync(cmdFile, lines.map((l) => `${l}\n`).join(''));

  before(async () => {
    const nsT = topo.ns('t'), nsU = topo.ns('u'), nsD = topo.ns('d'), nsE = topo.ns('e');
    topo.link(nsU, 'veU', '10.62.1.1/24', nsT, 'veTU', '10.62.1.2/24');
    topo.link(nsD, 'veD', '10.62.2.1/24', nsT, 'veTD', '10.62.2.2/24');
    topo.link(nsD, 'veD3', '10.62.3.1/24', nsT, 'veTD3', '10.62.3.2/24');
    topo.link(nsE, 'veE', '10.62.4.1/24', nsT, 'veTE', '10.62.4.2/24');
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
    up = await FrrPeer.start(topo, nsU, frrConf('up', 65001, '10.62.1.1', [{ addr: '10.62.1.2', role: 'provider strict-mode' }], '10.81.0.0/24'));
    // FRR records the Role Mismatch it sends in its log only: the connection that carried it is not
    // the one `show bgp neighbors` describes (it refuses our OPEN on the connection we opened)
    downLog = join(tmpdir(), `${topo.tag}-frr-down.log`);
    writeFileSync(downLog, '');
    chmodSync(downLog, 0o666);
    topo.defer(() => rmSync(downLog, { force: true }));
    down = await FrrPeer.start(topo, nsD, frrConf('down', 65003, '10.62.2.1',
      [{ addr: '10.62.2.2', role: 'customer' }, { addr: '10.62.3.2', role: 'peer strict-mode' }], '10.83.0.0/24', downLog));
    cmdFile = join(t.dir, 'exa-cmds');
    writeFileSync(cmdFile, '');
    const script = join(t.dir, 'exa-api.sh');
    writeFileSync(script, `#!/bin/sh\nexec /usr/bin/tail -n +1 -F ${cmdFile}\n`);
    chmodSync(script, 0o755);
    await ExabgpPeer.start(topo, nsE, EXA(script));
  });
  after(async () => {
    if (process.env['TORTIE_TEST_DEBUG']) {
      writeFileSync(process.env['TORTIE_TEST_DEBUG'], [up.vtysh('show bgp neighbors json'), down.vtysh('show bgp neighbors json'),
        up.vtysh('show bgp ipv4 unicast json'), down.vtysh('show bgp ipv4 unicast 10.81.0.0/24 json'), down.vtysh('show bgp ipv4 unicast 10.72.0.0/24 json'), t.proc.output].join('\n'));
    }
    await topo.cleanup();
  });

  it('matching roles come up (strict mode on FRR\'s side), FRR shows both roles', async () => {
    await pollUntil(async () => (await t.peer('up')).state === 'Established' && (await t.peer('down')).state === 'Established',
      { what: 'up and down Established', timeoutMs: 30_000 });
    await pollUntil(() => neighbor(up, '10.62.1.2').bgpState === 'Established' && neighbor(down, '10.62.2.2').bgpState === 'Established', { what: 'FRR sees them Established' });
    const u = neighbor(up, '10.62.1.2'), d = neighbor(down, '10.62.2.2');
    assert.deepEqual([u.localRole, u.remoteRole], ['provider', 'customer']);
    assert.deepEqual([d.localRole, d.remoteRole], ['customer', 'provider']);
  });

  it('a role that does not pair is refused by both sides with Role Mismatch', async () => {
    let ours = '';
    await pollUntil(async () => /Role mismatch/.test(ours = (await t.peer('odd')).lastError ?? ''), { what: () => `Role mismatch in our lastError for odd (${ours})`, timeoutMs: 20_000 });
    await pollUntil(() => /NOTIFICATION: sent to neighbor 10\.62\.3\.2 2\/11 \(OPEN Message Error\/Role Mismatch\)/.test(readFileSync(downLog, 'utf8')),
      { what: 'FRR sending Role Mismatch (its log)', timeoutMs: 20_000 });
    const n = neighbor(down, '10.62.3.2');
    assert.notEqual(n.bgpState, 'Established');
    assert.equal(n.localRole, 'peer');
    assert.notEqual((await t.peer('odd')).state, 'Established');
  });

  it('OTC: the provider\'s route reaches the customer with OTC 65001; ours with OTC 65002 to the customer and none to the provider', async () => {
    const viaUs = await pollUntil(() => paths(down, '10.81.0.0/24').find((p) => p.peer?.peerId === '10.62.2.2'), { what: 'up\'s route at down' });
    assert.equal(viaUs.otc, 65001);
    const ours = await pollUntil(() => paths(down, '10.72.0.0/24').find((p) => p.peer?.peerId === '10.62.2.2'), { what: 'our route at down' });
    assert.equal(ours.otc, 65002);
    const atUp = await pollUntil(() => paths(up, '10.72.0.0/24').find((p) => p.peer?.peerId === '10.62.1.2'), { what: 'our route at up' });
    assert.equal(atUp.otc, undefined);
    const custAtUp = await pollUntil(() => paths(up, '10.83.0.0/24').find((p) => p.peer?.peerId === '10.62.1.2'), { what: 'down\'s route at up' });
    assert.equal(custAtUp.otc, undefined);
    // our import policy on down: extended and large communities matched with "*", removed and added
    assert.equal(custAtUp.extendedCommunity?.string, 'RT:65003:2 SoO:65002:7');
    assert.equal(custAtUp.largeCommunity?.string, '65002:0:1');
    assert.deepEqual(paths(up, '10.81.0.0/24').filter((p) => p.peer?.peerId === '10.62.1.2'), [], 'up\'s own route not sent back');
  });

  it('enforce-first-AS: ExaBGP\'s path not starting with 65004 is refused; a customer\'s route carrying OTC is a leak', async () => {
    await pollUntil(async () => (await t.peer('exa')).state === 'Established', { what: 'exa Established', timeoutMs: 20_000 });
    send('announce route 10.84.1.0/24 next-hop self as-path [ 65099 65100 ]',
      'announce route 10.84.2.0/24 next-hop self attribute [ 0x23 0xc0 0x0000fde9 ]',
      'announce route 10.84.9.0/24 next-hop self');
    await pollUntil(async () => (await t.routes('10.84.9.0/24')).length === 1, { what: 'sentinel from exa' });
    // exa's own refusals only: FRR may already have sent the sentinel back (an as-path-loop here)
    const filtered = (await t.request({ cmd: 'show-route', filtered: true }) as Array<{ prefix: string; from: string; reason: string }>).filter((r) => r.from === 'exa');
    assert.equal((await t.routes('10.84.1.0/24')).length, 0);
    assert.equal((await t.routes('10.84.2.0/24')).length, 0);
    assert.deepEqual(filtered.filter((r) => r.prefix.startsWith('10.84.')).map((r) => [r.prefix, r.reason]).sort(),
      [['10.84.1.0/24', 'first-as-mismatch'], ['10.84.2.0/24', 'otc-route-leak']]);
    assert.equal((await t.peer('exa')).state, 'Established', 'no NOTIFICATION: treated as withdrawn');
    // and FRR (our provider) gets the sentinel but neither refused route
    await pollUntil(() => paths(up, '10.84.9.0/24').length === 1, { what: 'the sentinel at up' });
    assert.deepEqual([paths(up, '10.84.1.0/24').length, paths(up, '10.84.2.0/24').length], [0, 0]);
  });
});
