/**
 * Per-session import guards of the speaker, against scripted raw peers over loopback:
 * enforce-first-AS (eBGP default on, off per peer), maximum prefixes with warning-only,
 * restart-after and disable, the route-reflector cluster id (CLUSTER_LIST out, loop in), and
 * RFC 9234 roles (Role Mismatch 2/11, OTC ingress and egress).
 *
 *   raw peers 127.0.7.x (AS 6520x, or iBGP 65200) ──▶ speaker AS 65200 on 127.0.0.1:port
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { INITIAL_CONTEXT, type AsPathSegment, type PathAttributes, type UpdateMessage } from '../../../bgp/wire/types.js';
import { roleCapability } from '../../../bgp/wire/role.js';
import { BgpSpeaker, type RouteView } from '../../../bgp/speaker/speaker.js';
import type { PeerConfig } from '../../../bgp/speaker/peer-config.js';

/** `show route filtered PREFIX`: the paths refused on import, with why. */
async function filteredRoutes(s: BgpSpeaker, prefix: string): Promise<RouteView[]> {
  const out: RouteView[] = [];
  await s.streamRoutes({ type: 'filtered', prefix }, (b) => { out.push(...b); });
  return out;
}

const LOCAL_AS = 65200;
const seq = (...asns: number[]): AsPathSegment[] => [{ type: 2, asns }];

function announce(r: RawPeer, prefixes: string[], attrs: Omit<PathAttributes, 'origin' | 'nextHop'>): void {
  r.send({ type: 'update', withdrawn: [], nlri: prefixes.map((p) => ({ prefix: parsePrefix(p) })),
    attributes: { origin: 0, nextHop: Uint8Array.of(192, 0, 2, 7), ...attrs } });
}

const updatesAt = (r: RawPeer): UpdateMessage[] => r.received.filter((m): m is UpdateMessage => m.type === 'update');
const notificationsAt = (r: RawPeer) => r.received.flatMap((m) => (m.type === 'notification' ? [[m.code, m.subcode]] : []));

describe('BgpSpeaker session policy: first AS, max prefixes, cluster id, roles', () => {
  const port = 36000 + (process.pid % 20000);
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });
  const speaker = async (): Promise<BgpSpeaker> => {
    if (sp) return sp;
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.7.1', asn: LOCAL_AS, clusterId: '10.255.0.1', listen: { address: '127.0.0.1', port }, peers: [] });
    await sp.start();
    return sp;
  };
  const status = (name: string) => sp?.status().find((s) => s.name === name);
  const connectPeer = async (cfg: PeerConfig, id: number, opts: { ibgp?: boolean } = {}): Promise<RawPeer> => {
    const s = await speaker();
    s.addPeer(cfg);
    const r = await openRawPeer(port, cfg.address, cfg.asn, id, opts);
    raws.push(r);
    await pollUntil(() => status(cfg.name)?.state === 'Established', { what: `${cfg.name} Established` });
    return r;
  };
  const processed = async (name: string, before: number) =>
    pollUntil(() => (status(name)?.messages.updatesIn ?? 0) > before, { what: `${name}'s UPDATE processed` });

  it('enforce-first-AS: an eBGP path not starting with the peer AS (or empty) is refused, and withdraws what was there', async () => {
    const r = await connectPeer(passivePeerConfig('first', '127.0.7.1', 65201), 0x0a000701);
    const s = await speaker();
    announce(r, ['10.70.1.0/24'], { asPath: seq(65201, 65100) });
    await pollUntil(() => s.routes('10.70.1.0/24').length === 1, { what: 'good path accepted' });
    let n = status('first')?.messages.updatesIn ?? 0;
    announce(r, ['10.70.1.0/24', '10.70.2.0/24'], { asPath: seq(65099, 65100) });
    await processed('first', n);
    assert.equal(s.routes('10.70.1.0/24').length, 0, 'the earlier route is withdrawn');
    assert.deepEqual((await filteredRoutes(s, '10.70.2.0/24')).map((v) => [v.reason, v.asPath]), [['first-as-mismatch', [65099, 65100]]]);
    n = status('first')?.messages.updatesIn ?? 0;
    announce(r, ['10.70.3.0/24'], { asPath: [] });
    await processed('first', n);
    assert.deepEqual((await filteredRoutes(s, '10.70.3.0/24')).map((v) => v.reason), ['first-as-mismatch'], 'an empty AS_PATH from eBGP too');
    assert.equal(status('first')?.state, 'Established', 'no NOTIFICATION: treat-as-withdraw');
    assert.deepEqual(notificationsAt(r), []);
  });

  it('enforceFirstAs false (a route server): the path is accepted', async () => {
    const r = await connectPeer(passivePeerConfig('rs', '127.0.7.2', 65202, { enforceFirstAs: false }), 0x0a000702);
    announce(r, ['10.70.4.0/24'], { asPath: seq(65099) });
    await pollUntil(async () => (await speaker()).routes('10.70.4.0/24').length === 1, { what: 'route-server path accepted' });
  });

  it('maxPrefixAction warn: the session and all routes stay', async () => {
    const r = await connectPeer(passivePeerConfig('warn', '127.0.7.3', 65203, { maxPrefixes: 2, maxPrefixAction: 'warn' }), 0x0a000703);
    announce(r, ['10.70.10.0/24', '10.70.11.0/24', '10.70.12.0/24'], { asPath: seq(65203) });
    await pollUntil(async () => (await speaker()).routes().filter((v) => v.from === 'warn').length === 3, { what: 'three routes kept' });
    assert.equal(status('warn')?.state, 'Established');
    assert.deepEqual(notificationsAt(r), []);
  });

  it('maxPrefixAction disable: Cease/1, and the peer stays disabled', async () => {
    const r = await connectPeer(passivePeerConfig('dis', '127.0.7.4', 65204, { maxPrefixes: 1, maxPrefixAction: 'disable' }), 0x0a000704);
    announce(r, ['10.70.20.0/24', '10.70.21.0/24'], { asPath: seq(65204) });
    await pollUntil(() => notificationsAt(r).length > 0, { what: 'NOTIFICATION' });
    assert.deepEqual(notificationsAt(r)[0], [6, 1]);
    await pollUntil(() => status('dis')?.state === 'Idle' && status('dis')?.enabled === false, { what: () => `disabled: ${JSON.stringify(status('dis'))}` });
  });

  it('maxPrefixRestart: Cease/1, then the session is accepted again after the interval', async () => {
    const cfg = passivePeerConfig('again', '127.0.7.5', 65205, { maxPrefixes: 1, maxPrefixRestart: 1 });
    const r = await connectPeer(cfg, 0x0a000705);
    announce(r, ['10.70.30.0/24', '10.70.31.0/24'], { asPath: seq(65205) });
    await pollUntil(() => notificationsAt(r).length > 0, { what: 'NOTIFICATION' });
    assert.deepEqual(notificationsAt(r)[0], [6, 1]);
    assert.equal(status('again')?.state, 'Idle');
    const downAt = Date.now();
    // back after the interval (1 s): reconnect until taken
    await pollUntil(async () => {
      const r2 = await openRawPeer(port, cfg.address, cfg.asn, 0x0a000705);
      raws.push(r2);
      return await pollUntil(() => (r2.closed ? 'closed' : status('again')?.state === 'Established' ? 'up' : false), { timeoutMs: 3000 }) === 'up';
    }, { what: 'the session back after maxPrefixRestart', timeoutMs: 10_000 });
    // the idle-hold back-off of a plain restart is 5 s at least: back sooner means the interval did it
    assert.ok(Date.now() - downAt < 4500, `back after ${Date.now() - downAt} ms, expected about 1 s`);
  });

  it('cluster id: reflected routes carry it in CLUSTER_LIST, and a path already holding it is refused', async () => {
    const client = await connectPeer(passivePeerConfig('client', '127.0.7.6', LOCAL_AS, { routeReflectorClient: true }), 0x0a000706, { ibgp: true });
    const other = await connectPeer(passivePeerConfig('other', '127.0.7.7', LOCAL_AS), 0x0a000707, { ibgp: true });
    announce(client, ['10.70.40.0/24'], { asPath: [], localPref: 100 });
    const got = await pollUntil(() => updatesAt(other).find((u) => u.nlri.some((x) => formatPrefix(x.prefix) === '10.70.40.0/24')), { what: 'reflected route at the non-client' });
    assert.deepEqual(got.attributes.clusterList, [0x0aff0001], 'CLUSTER_LIST is the configured cluster id, not the router id');
    assert.equal(got.attributes.originatorId, 0x0a000706);
    const n = status('client')?.messages.updatesIn ?? 0;
    announce(client, ['10.70.41.0/24'], { asPath: [], localPref: 100, originatorId: 0x0a000799, clusterList: [0x0a000001, 0x0aff0001] });
    await processed('client', n);
    assert.deepEqual((await filteredRoutes(await speaker(), '10.70.41.0/24')).map((v) => v.reason), ['cluster-list-loop']);
  });

  it('roles: Role Mismatch (2/11) for a peer whose role does not pair, and for none in strict mode', async () => {
    const s = await speaker();
    s.addPeer(passivePeerConfig('wrongrole', '127.0.7.8', 65208, { localRole: 'customer' }));
    s.addPeer(passivePeerConfig('strict', '127.0.7.9', 65209, { localRole: 'customer', roleStrict: true }));
    const open = async (addr: string, asn: number, role: 'customer' | undefined): Promise<RawPeer> => {
      const r = await RawPeer.connect('127.0.0.1', port, addr);
      raws.push(r);
      r.send({ type: 'open', version: 4, myAs: asn, holdTime: 0, bgpId: 0x0a000700 + Number(addr.split('.')[3]),
        capabilities: [{ type: 'four-octet-as', asn }, ...(role ? [roleCapability(role)] : [])] });
      return r;
    };
    const wrong = await open('127.0.7.8', 65208, 'customer');
    const none = await open('127.0.7.9', 65209, undefined);
    await pollUntil(() => notificationsAt(wrong).length > 0 && notificationsAt(none).length > 0, { what: 'both refused' });
    assert.deepEqual(notificationsAt(wrong)[0], [2, 11]);
    assert.deepEqual(notificationsAt(none)[0], [2, 11]);
    assert.match(status('wrongrole')?.lastError ?? '', /[Rr]ole/);
  });

  it('roles and OTC: from a provider OTC is added; towards a provider a route with OTC is not sent; towards a customer OTC = our AS', async () => {
    const s = await speaker();
    const withRole = async (name: string, addr: string, asn: number, ours: 'customer' | 'provider', theirs: 'provider' | 'customer'): Promise<RawPeer> => {
      s.addPeer(passivePeerConfig(name, addr, asn, { localRole: ours }));
      const r = await RawPeer.connect('127.0.0.1', port, addr);
      raws.push(r);
      r.send({ type: 'open', version: 4, myAs: asn, holdTime: 0, bgpId: 0x0a000700 + Number(addr.split('.')[3]),
        capabilities: [{ type: 'four-octet-as', asn }, { type: 'multiprotocol', afi: 1, safi: 1 }, roleCapability(theirs)] });
      r.send({ type: 'keepalive' });
      r.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true };
      await pollUntil(() => status(name)?.state === 'Established', { what: `${name} Established` });
      return r;
    };
    const upstream = await withRole('upstream', '127.0.7.10', 65210, 'customer', 'provider');
    const upstream2 = await withRole('upstream2', '127.0.7.11', 65211, 'customer', 'provider');
    const downstream = await withRole('downstream', '127.0.7.12', 65212, 'provider', 'customer');
    announce(upstream, ['10.70.50.0/24'], { asPath: seq(65210) });
    await pollUntil(() => s.routes('10.70.50.0/24').length === 1, { what: 'route from the provider' });
    const toCustomer = await pollUntil(() => updatesAt(downstream).find((u) => u.nlri.some((x) => formatPrefix(x.prefix) === '10.70.50.0/24')), { what: 'route at the customer' });
    assert.equal(toCustomer.attributes.onlyToCustomer, 65210, 'OTC = the provider\'s AS, added on ingress and kept');
    // a customer's route leaking back up with OTC set: refused on ingress (RFC 9234 §5 rule 1)
    let n = status('downstream')?.messages.updatesIn ?? 0;
    announce(downstream, ['10.70.51.0/24'], { asPath: seq(65212), onlyToCustomer: 65099 });
    await processed('downstream', n);
    assert.deepEqual((await filteredRoutes(s, '10.70.51.0/24')).map((v) => v.reason), ['otc-route-leak']);
    // the provider's route (OTC set) never goes to the other provider; a customer route does, without OTC
    n = status('downstream')?.messages.updatesIn ?? 0;
    announce(downstream, ['10.70.52.0/24'], { asPath: seq(65212) });
    const up = await pollUntil(() => updatesAt(upstream2).find((u) => u.nlri.some((x) => formatPrefix(x.prefix) === '10.70.52.0/24')), { what: 'customer route at the provider' });
    assert.equal(up.attributes.onlyToCustomer, undefined);
    assert.ok(!updatesAt(upstream2).some((u) => u.nlri.some((x) => formatPrefix(x.prefix) === '10.70.50.0/24')), 'provider route not sent to a provider');
    // locally originated towards a customer: OTC = our AS
    s.originate('10.70.53.0/24', { nextHop: '192.0.2.1' });
    const own = await pollUntil(() => updatesAt(downstream).find((u) => u.nlri.some((x) => formatPrefix(x.prefix) === '10.70.53.0/24')), { what: 'own route at the customer' });
    assert.equal(own.attributes.onlyToCustomer, LOCAL_AS);
  });
});
