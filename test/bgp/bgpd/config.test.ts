/** tortie-bgpd config: schema, precise errors (file:line: field path: reason), quick form, asdot. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseAsn, parseConfigText, quickConfig } from '../../../bgp/bgpd/config.js';
import { compilePeerPolicy } from '../../../bgp/speaker/policy-config.js';
import { addPathFamilies } from '../../../bgp/speaker/peer-config.js';
import { parsePrefix } from '../../../common/prefix.js';

const GOOD = `routerId: 10.99.0.2
asn: "1.10"
listen: { address: 0.0.0.0, port: 1179 }
prefixLists:
  pods: [{ prefix: 10.244.0.0/16, le: 26 }]
policies:
  in:
    rules:
      - { match: { prefixList: pods }, action: accept, set: { localPref: 200, communities: { add: ["65000:1"] } } }
    default: reject
peers:
  - name: tor
    address: 10.99.0.1
    asn: 65001
    holdTime: 30
    families: [ipv4-unicast, ipv6-unicast]
    import: in
    export: { rules: [], default: accept }
originate:
  - { prefix: 10.244.1.0/26, communities: ["65002:1"] }
`;

describe('bgpd config', () => {
  it('parses a full file: asdot, defaults, policy refs, keepalive from hold', () => {
    const c = parseConfigText(GOOD, 'bgpd.yaml');
    assert.equal(c.speaker.asn, 65546);
    const p = c.speaker.peers[0];
    assert.ok(p);
    assert.equal(p.port, 179);
    assert.equal(p.keepalive, 10);
    assert.deepEqual(p.families, ['ipv4-unicast', 'ipv6-unicast']);
    const pol = compilePeerPolicy(p.import, 'import');
    assert.ok(pol, 'the import policy is not accept-all');
    const subject = { sourceKind: 'ebgp' as const, sourcePeer: p.name, localAs: 65002 };
    const r = pol.evaluate(parsePrefix('10.244.3.0/26'), {}, subject);
    assert.equal(r.type, 'accept');
    if (r.type === 'accept') { assert.equal(r.attrs.localPref, 200); assert.deepEqual(r.attrs.communities, [((65000 << 16) | 1) >>> 0]); }
    assert.equal(pol.evaluate(parsePrefix('10.244.3.0/27'), {}, subject).type, 'reject');
    assert.equal(pol.evaluate(parsePrefix('10.0.0.0/8'), {}, subject).type, 'reject');
    assert.deepEqual(c.originate[0]?.communities, [((65002 << 16) | 1) >>> 0]);
  });

  it('warmUp: on by default, off with warmUp: false, a wrong type named', () => {
    assert.equal(parseConfigText(GOOD, 'bgpd.yaml').warmUp, true);
    assert.equal(parseConfigText(`${GOOD}warmUp: false\n`, 'bgpd.yaml').warmUp, false);
    assert.throws(() => parseConfigText(`${GOOD}warmUp: 3\n`, 'w.yaml'), /w\.yaml:\d+: warmUp: /);
  });

  it('reports every problem with file, line, field path and reason', () => {
    const bad = GOOD.replace('asn: 65001', 'asn: 70000000000').replace('holdTime: 30', 'holdTime: 30\n    colour: red').replace('10.244.1.0/26', '10.244.1.1/26');
    try { parseConfigText(bad, 'bgpd.yaml'); assert.fail('should throw'); } catch (e) {
      assert.ok(e instanceof ConfigError);
      const msg = e.message;
      assert.match(msg, /bgpd\.yaml:14: peers\[0\]\.asn: 70000000000 is not an AS number/);
      assert.match(msg, /bgpd\.yaml:16: peers\[0\]\.colour: unknown field "colour"/);
      assert.match(msg, /bgpd\.yaml:\d+: originate\[0\]\.prefix: not a valid prefix/);
      assert.equal(e.issues.length, 3);
    }
    assert.throws(() => parseConfigText(GOOD.replace('import: in', 'import: nope'), 'x.yaml'), /x\.yaml: peers\[0\]\.import: unknown policy "nope"/);
    assert.throws(() => parseConfigText('routerId: [', 'y.yaml'), /y\.yaml:1:\d+: YAML syntax error/);
  });

  it('quick form: peers eBGP/iBGP by AS, options, errors name the peer', () => {
    const c = quickConfig({ as: '65002', routerId: '10.99.0.2', peer: ['10.99.0.1,as=65001', '10.99.0.3,as=65002,port=1179,passive,hold=9,nhs'], originate: ['10.5.0.0/24'], listen: '[::]:1179' });
    assert.deepEqual(c.speaker.listen, { address: '::', port: 1179 });
    assert.equal(c.speaker.peers[1]?.passive, true);
    assert.equal(c.speaker.peers[1]?.holdTime, 9);
    assert.equal(c.speaker.peers[1]?.nextHopSelf, true);
    assert.throws(() => quickConfig({ as: '65002', routerId: '10.99.0.2', peer: ['10.99.0.1'], originate: [] }), /--peer #1 "10\.99\.0\.1": missing as=ASN/);
    assert.throws(() => quickConfig({ as: '65002', routerId: '10.99.0.2', peer: ['10.99.0.1,as=1,hold=2'], originate: [] }), /hold=2 must be 0 or 3\.\.65535/);
  });

  it('originate: MED and LOCAL_PREF, range-checked with the field path', () => {
    const c = parseConfigText(GOOD.replace('communities: ["65002:1"] }', 'communities: ["65002:1"], med: 5, localPref: 300 }'), 'o.yaml');
    assert.equal(c.originate[0]?.med, 5);
    assert.equal(c.originate[0]?.localPref, 300);
    assert.throws(() => parseConfigText(GOOD.replace('communities: ["65002:1"] }', 'med: -1 }'), 'o.yaml'), /o\.yaml:\d+: originate\[0\]\.med: /);
    assert.throws(() => parseConfigText(GOOD.replace('communities: ["65002:1"] }', 'localPref: 4294967296 }'), 'o.yaml'), /o\.yaml:\d+: originate\[0\]\.localPref: /);
  });

  it('per-peer next hops for the other family (IPv6 routes over an IPv4 session)', () => {
    const c = parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    nextHopSelf6: "fd00::2"\n    nextHopSelf4: 10.99.0.2'), 'n.yaml');
    assert.equal(c.speaker.peers[0]?.nextHopSelf6, 'fd00::2');
    assert.equal(c.speaker.peers[0]?.nextHopSelf4, '10.99.0.2');
    assert.throws(() => parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    nextHopSelf6: 10.0.0.1'), 'n.yaml'), /n\.yaml:\d+: peers\[0\]\.nextHopSelf6: must be an IPv6 address/);
    assert.throws(() => parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    nextHopSelf4: "fd00::1"'), 'n.yaml'), /peers\[0\]\.nextHopSelf4: must be an IPv4 address/);
  });

  it('localAs (BIRD local as) reaches the peer config, asdot too', () => {
    assert.equal(parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    localAs: 64999'), 'l.yaml').speaker.peers[0]?.localAs, 64999);
    assert.equal(parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    localAs: "1.10"'), 'l.yaml').speaker.peers[0]?.localAs, 65546);
    assert.throws(() => parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    localAs: 0'), 'l.yaml'), /peers\[0\]\.localAs/);
  });

  it('nextHopKeep (BIRD next hop keep) reaches the peer config; absent means off', () => {
    const c = parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    nextHopKeep: true'), 'k.yaml');
    assert.equal(c.speaker.peers[0]?.nextHopKeep, true);
    assert.equal(parseConfigText(GOOD, 'k.yaml').speaker.peers[0]?.nextHopKeep, undefined);
    assert.throws(() => parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    nextHopKeep: yes please'), 'k.yaml'), /peers\[0\]\.nextHopKeep/);
  });

  it('addPaths (BIRD add paths on|rx|tx|off, or the long form) reaches the peer config and the OPEN; errors named', () => {
    const ap = (v: string) => parseConfigText(GOOD.replace('holdTime: 30', `holdTime: 30\n    addPaths: ${v}`), 'p.yaml').speaker.peers[0];
    assert.deepEqual(ap('on')?.addPaths, { send: true, receive: true });
    assert.deepEqual(ap('true')?.addPaths, { send: true, receive: true });
    assert.deepEqual(ap('rx')?.addPaths, { send: false, receive: true });
    assert.deepEqual(ap('tx')?.addPaths, { send: true, receive: false });
    assert.equal(ap('off')?.addPaths, undefined);
    assert.equal(parseConfigText(GOOD, 'p.yaml').speaker.peers[0]?.addPaths, undefined);
    const long = ap('{ send: true, limit: 4, families: [ipv6-unicast] }')!;
    assert.deepEqual(long.addPaths, { send: true, receive: false, limit: 4, families: ['ipv6-unicast'] });
    assert.deepEqual(addPathFamilies(long), [{ afi: 2, safi: 1, mode: 2 }], 'capability 69: IPv6 unicast, send only');
    assert.deepEqual(addPathFamilies(ap('on')!), [{ afi: 1, safi: 1, mode: 3 }, { afi: 2, safi: 1, mode: 3 }]);
    assert.throws(() => ap('sometimes'), /p\.yaml:\d+: peers\[0\]\.addPaths/);
    const q = quickConfig({ as: '65002', routerId: '10.0.0.2', peer: ['10.0.0.1,as=65001,addpaths', '10.0.0.3,as=65003'], originate: [] });
    assert.deepEqual(q.speaker.peers.map((x) => x.addPaths), [{ send: true, receive: true }, undefined], 'quick form: addpaths');
    assert.throws(() => ap('{ receive: true, limit: 2 }'), /addPaths\.limit without send/);
    assert.throws(() => ap('{ send: true, limit: 0 }'), /peers\[0\]\.addPaths/);
    assert.throws(() => parseConfigText(GOOD.replace('families: [ipv4-unicast, ipv6-unicast]', 'families: [ipv4-unicast]')
      .replace('holdTime: 30', 'holdTime: 30\n    addPaths: { send: true, families: [ipv6-unicast] }'), 'p.yaml'), /ipv6-unicast is not one of the peer's families/);
  });

  it('allowAsIn (BIRD allow local as N) reaches the peer config; 0 or absent means off, bounds named', () => {
    assert.equal(parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    allowAsIn: 2'), 'a.yaml').speaker.peers[0]?.allowAsIn, 2);
    assert.equal(parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    allowAsIn: 0'), 'a.yaml').speaker.peers[0]?.allowAsIn, undefined);
    assert.equal(parseConfigText(GOOD, 'a.yaml').speaker.peers[0]?.allowAsIn, undefined);
    assert.throws(() => parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    allowAsIn: 256'), 'a.yaml'), /a\.yaml:\d+: peers\[0\]\.allowAsIn/);
    assert.throws(() => parseConfigText(GOOD.replace('holdTime: 30', 'holdTime: 30\n    allowAsIn: -1'), 'a.yaml'), /peers\[0\]\.allowAsIn/);
  });

  it('password, multihop and ttlSecurity (BIRD password / multihop [N] / ttl security; FRR ttl-security hops N)', () => {
    const peer = (extra: string) => parseConfigText(GOOD.replace('holdTime: 30', `holdTime: 30\n    ${extra.replace(/\n/g, '\n    ')}`), 'm.yaml').speaker.peers[0];
    const pick = (p: ReturnType<typeof peer>) => ({ password: p?.password, multihop: p?.multihop, ttlSecurity: p?.ttlSecurity });
    assert.deepEqual(pick(peer('password: "s3cret"')), { password: 's3cret', multihop: undefined, ttlSecurity: undefined });
    assert.deepEqual(pick(peer('multihop: true')), { password: undefined, multihop: 64, ttlSecurity: undefined });
    assert.deepEqual(pick(peer('multihop: 3')), { password: undefined, multihop: 3, ttlSecurity: undefined });
    // eBGP (65546 vs 65001): ttl security on a direct session allows 1 hop, with multihop N allows N.
    assert.deepEqual(pick(peer('ttlSecurity: true')), { password: undefined, multihop: undefined, ttlSecurity: 1 });
    assert.deepEqual(pick(peer('ttlSecurity: true\nmultihop: 2')), { password: undefined, multihop: undefined, ttlSecurity: 2 });
    assert.deepEqual(pick(peer('ttlSecurity: 3')), { password: undefined, multihop: undefined, ttlSecurity: 3 });
    assert.deepEqual(pick(peer('ttlSecurity: false\nmultihop: 5')), { password: undefined, multihop: 5, ttlSecurity: undefined });
    const bad = (extra: string, re: RegExp) => assert.throws(() => peer(extra), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    bad('password: ""', /m\.yaml:\d+: peers\[0\]\.password: password must be 1\.\.80 bytes/);
    bad(`password: "${'x'.repeat(81)}"`, /peers\[0\]\.password/);
    bad('password: 12', /peers\[0\]\.password/);
    bad('multihop: 0', /peers\[0\]\.multihop/);
    bad('multihop: 256', /peers\[0\]\.multihop/);
    bad('ttlSecurity: 256', /peers\[0\]\.ttlSecurity/);
    bad('ttlSecurity: 0', /peers\[0\]\.ttlSecurity/);
    bad('ttlSecurity: 2\nmultihop: 2', /peers\[0\]\.ttlSecurity: ttlSecurity: N and multihop together/);
    assert.deepEqual(pick(peer('ttlSecurity: true\nmultihop: 255')), { password: undefined, multihop: undefined, ttlSecurity: 255 });
  });

  it('two peers with one address are refused by the parser (so --check refuses what start refuses)', () => {
    const two = GOOD.replace('peers:\n', 'peers:\n  - { name: other, address: 10.99.0.1, asn: 65003 }\n');
    assert.throws(() => parseConfigText(two, 'd.yaml'), /d\.yaml: peers\[1\]\.address: peer address 10\.99\.0\.1 is already used by peers\[0\]/);
    const v6 = GOOD.replace('peers:\n', 'peers:\n  - { name: a, address: "fd00::1", asn: 65003 }\n  - { name: b, address: "fd00:0::1", asn: 65003 }\n');
    assert.throws(() => parseConfigText(v6, 'd.yaml'), /peers\[1\]\.address/);
    assert.throws(() => quickConfig({ as: '65002', routerId: '10.0.0.2', peer: ['10.0.0.1,as=65001', '10.0.0.1,as=65003'], originate: [] }),
      /--peer #2: peer address 10\.0\.0\.1 is given twice/);
  });

  it('gracefulRestart (BIRD graceful restart [time], FRR restart-time/stalepath-time) reaches the speaker; bounds named', () => {
    assert.equal(parseConfigText(GOOD, 'g.yaml').speaker.gracefulRestart, undefined, 'absent: the speaker defaults (enabled, 120 s, helper)');
    assert.deepEqual(parseConfigText(`${GOOD}gracefulRestart: { restartTime: 30 }\n`, 'g.yaml').speaker.gracefulRestart,
      { enabled: true, restartTime: 30, staleTime: 360, helper: true, forwardingPreserved: false, selectionDeferralTime: 240, longLivedStaleTime: 0, longLivedHelper: true });
    assert.deepEqual(parseConfigText(`${GOOD}gracefulRestart: { enabled: false, helper: false, stalePathTime: 60, forwardingPreserved: true }\n`, 'g.yaml').speaker.gracefulRestart,
      { enabled: false, restartTime: 120, staleTime: 60, helper: false, forwardingPreserved: true, selectionDeferralTime: 240, longLivedStaleTime: 0, longLivedHelper: true });
    assert.throws(() => parseConfigText(`${GOOD}gracefulRestart: { restartTime: 4096 }\n`, 'g.yaml'), /g\.yaml:\d+: gracefulRestart\.restartTime/);
    assert.throws(() => parseConfigText(`${GOOD}gracefulRestart: { restart: 30 }\n`, 'g.yaml'), /gracefulRestart/);
  });

  it('bfd: FRR-profile defaults, ms -> µs, multihop follows the BGP multihop, auth, disabled, errors with the field path', () => {
    const withBfd = (b: string, extra = '') => parseConfigText(GOOD.replace('holdTime: 30', `holdTime: 30${extra}\n    bfd: ${b}`), 'b.yaml');
    assert.deepEqual(parseConfigText(GOOD, 'b.yaml').bfd, [], 'no bfd block: no session');
    assert.deepEqual(withBfd('{}').bfd, [{ peerName: 'tor', spec: { peer: '10.99.0.1', multihop: false,
      params: { desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, detectMult: 3, passive: false } } }]);
    const c = withBfd('{ minRx: 100, minTx: 50, multiplier: 5, passive: true }', '\n    multihop: 2\n    localAddress: 10.99.0.2');
    assert.deepEqual(c.bfd[0]?.spec, { peer: '10.99.0.1', local: '10.99.0.2', multihop: true,
      params: { desiredMinTxUs: 50_000, requiredMinRxUs: 100_000, detectMult: 5, passive: true } });
    assert.equal(withBfd('{ multihop: false }', '\n    multihop: 2').bfd[0]?.spec.multihop, false, 'explicit single-hop wins');
    assert.deepEqual(withBfd('{ enabled: false }').bfd, []);
    const a = withBfd('{ auth: { type: meticulous-keyed-sha1, keyId: 3, key: s3cret } }').bfd[0]?.spec.params.auth;
    assert.deepEqual(a && { type: a.type, keyId: a.keyId, key: Buffer.from(a.key).toString() }, { type: 'meticulous-keyed-sha1', keyId: 3, key: 's3cret' });
    assert.throws(() => withBfd('{ minRx: 0 }'), /b\.yaml:\d+: peers\[0\]\.bfd\.minRx/);
    assert.throws(() => withBfd('{ multiplier: 256 }'), /peers\[0\]\.bfd\.multiplier/);
    assert.throws(() => withBfd('{ minTX: 100 }'), /peers\[0\]\.bfd\.minTX: unknown field "minTX"/);
    assert.throws(() => withBfd('{ auth: { type: keyed-md5, key: x } }'), /peers\[0\]\.bfd\.auth\.type/);
    assert.throws(() => withBfd('{ auth: { type: keyed-sha1, key: "123456789012345678901" } }'), /peers\[0\]\.bfd\.auth\.key/);
    const q = quickConfig({ as: '65002', routerId: '10.0.0.2', peer: ['10.0.0.1,as=65001,bfd', '10.0.0.3,as=65001'], originate: [] });
    assert.deepEqual(q.bfd.map((b) => [b.peerName, b.spec.peer, b.spec.params.desiredMinTxUs]), [['peer_10_0_0_1', '10.0.0.1', 300_000]]);
  });

  it('AS numbers: plain, asdot, bounds', () => {
    assert.equal(parseAsn('65001'), 65001);
    assert.equal(parseAsn('1.10'), 65546);
    assert.equal(parseAsn('65535.65535'), 4294967295);
    assert.equal(parseAsn('0'), undefined);
    assert.equal(parseAsn('4294967296'), undefined);
    assert.equal(parseAsn('65536.0'), undefined);
  });
});

describe('bgpd config: multipath and kernel sections', () => {
  const base = 'routerId: 10.0.0.1\nasn: 65000\n';
  it('reads them with BIRD-like defaults; absent means best path only and no kernel routes', () => {
    const none = parseConfigText(base, 'bgpd.yaml');
    assert.equal(none.kernel, undefined);
    assert.equal(none.speaker.multipath, undefined);
    const c = parseConfigText(`${base}multipath: { maxPaths: 8 }\nkernel: {}\n`, 'bgpd.yaml');
    assert.deepEqual(c.speaker.multipath, { maxPaths: 8, relaxAsPath: false });
    assert.deepEqual(c.kernel, { table: 254, protocol: 186, mergePaths: true, persist: false, families: [4, 6] });
    const k = parseConfigText(`${base}kernel: { table: 100, protocol: 12, mergePaths: false, persist: true, families: [ipv6] }\n`, 'bgpd.yaml');
    assert.deepEqual(k.kernel, { table: 100, protocol: 12, mergePaths: false, persist: true, families: [6] });
  });
  it('refuses the kernel\'s own protocol numbers and unknown fields, naming the line', () => {
    assert.throws(() => parseConfigText(`${base}kernel:\n  protocol: 4\n`, 'bgpd.yaml'),
      (e: unknown) => e instanceof ConfigError && /bgpd\.yaml:4: kernel\.protocol: must be 5\.\.255/.test(e.message));
    assert.throws(() => parseConfigText(`${base}kernel: { metric: 32 }\n`, 'bgpd.yaml'), /kernel\.metric: unknown field "metric"/);
    assert.throws(() => parseConfigText(`${base}multipath: { maxPaths: 0 }\n`, 'bgpd.yaml'), /multipath\.maxPaths/);
  });
});
