/**
 * Capture what real BGP speakers put on the wire, as interop fixtures for bgp/wire.
 *
 *   ns "<tag>-us" 10.0.0.1 ──veth── 10.0.0.2 ns "<tag>-peer"
 *   capture server (this file, --serve)      BIRD | FRR bgpd | gobgpd (AS 65001/65002/65003)
 *
 * The server (run inside the "us" namespace) accepts one connection on 179, sends our OPEN
 * (encoded by bgp/wire), answers KEEPALIVEs, and records every message the peer sends until the
 * expected prefixes have arrived; then it closes with Cease/2 and writes the hex to JSON.
 *
 * Regenerate all fixtures (root, bird2/frr/gobgpd installed):
 *   npx tsc -p tsconfig.json; node dist/test/helpers/bgp-capture.js [bird|frr|gobgp ...]
 */
import { createServer, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { MessageFramer } from '../../bgp/wire/framer.js';
import { decodeMessage, encodeMessage, KEEPALIVE } from '../../bgp/wire/message.js';
import { encodeShutdownCommunication } from '../../bgp/wire/notification.js';
import { INITIAL_CONTEXT, type CodecContext, type OpenMessage, type PathAttributes } from '../../bgp/wire/types.js';
import { encodeEndOfRib, encodeUpdates } from '../../bgp/wire/update-encoder.js';
import { formatPrefix, parseAddress, parsePrefix } from '../../common/prefix.js';
import { Topology } from './netns.js';
import { BirdPeer, FrrPeer, GobgpPeer } from './bgp-peers.js';
import { Proc, sh } from './sh.js';
import { pollUntil } from './poll.js';

export interface CapturedMessage {
  /** 'in' from the peer, 'out' from us. */
  readonly dir: 'in' | 'out';
  readonly hex: string;
}

export interface CaptureFixture {
  readonly peer: string;
  readonly version: string;
  readonly description: string;
  readonly expectedPrefixes: readonly string[];
  readonly messages: readonly CapturedMessage[];
}

export const OUR_AS = 65000;
export const OUR_ID = 0x0a000001; // 10.0.0.1

/** The OPEN the capture server sends (4-octet AS, IPv4 + IPv6 unicast, route refresh). */
export const CAPTURE_OPEN: OpenMessage = {
  type: 'open', version: 4, myAs: OUR_AS, holdTime: 90, bgpId: OUR_ID,
  capabilities: [
    { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'multiprotocol', afi: 2, safi: 1 },
    { type: 'route-refresh' }, { type: 'four-octet-as', asn: OUR_AS },
  ],
};

/** The session context both sides negotiated, given the peer's OPEN. */
export function captureContext(peerOpen: OpenMessage): CodecContext {
  return { ...INITIAL_CONTEXT, fourOctetAs: peerOpen.capabilities.some((c) => c.type === 'four-octet-as') };
}

const PREFIXES = ['198.51.100.0/24', '203.0.113.0/25', '2001:db8:1::/48', '2001:db8:2::/64'];

/** What `--announce` sends back, built by our encoder: the peer must accept and install these. */
export const ANNOUNCED = {
  v4: ['192.0.2.0/24', '192.0.2.128/25'], v6: ['2001:db8:ff::/48'],
  attributes: {
    origin: 0, asPath: [{ type: 2, asns: [OUR_AS] }], med: 77,
    communities: [(OUR_AS << 16 | 1) >>> 0, 0xffffff01], largeCommunities: [{ globalAdmin: OUR_AS, localData1: 5, localData2: 6 }],
    extendedCommunities: [Uint8Array.of(0, 2, OUR_AS >>> 8, OUR_AS & 0xff, 0, 0, 0, 9)],
  } satisfies PathAttributes,
} as const;

export function announcements(ctx: CodecContext): Uint8Array[] {
  return [
    ...encodeUpdates({ afi: 1, safi: 1 }, ANNOUNCED.attributes, ANNOUNCED.v4.map((p) => ({ prefix: parsePrefix(p) })), parseAddress('10.0.0.1').bytes, ctx),
    ...encodeUpdates({ afi: 2, safi: 1 }, ANNOUNCED.attributes, ANNOUNCED.v6.map((p) => ({ prefix: parsePrefix(p) })), [parseAddress('fd00::1').bytes], ctx),
    encodeEndOfRib({ afi: 1, safi: 1 }), encodeEndOfRib({ afi: 2, safi: 1 }),
  ];
}

/**
 * Serve one capture inside the current namespace; resolves with the recorded messages. With
 * `announce`, the session is kept up once the capture is complete: the UPDATEs it builds
 * (for the negotiated context) are sent and KEEPALIVEs continue until the process is stopped.
 */
export function serveCapture(address: string, expected: readonly string[], timeoutMs: number,
  announce?: (ctx: CodecContext) => Uint8Array[]): Promise<CapturedMessage[]> {
  return new Promise((resolvePromise, reject) => {
    const messages: CapturedMessage[] = [];
    const seen = new Set<string>();
    let ctx: CodecContext = INITIAL_CONTEXT;
    const framer = new MessageFramer(() => ctx);
    let sock: Socket | undefined;
    let done = false;
    const server = createServer({ noDelay: true }, (s) => {
      if (sock !== undefined) { s.destroy(); return; }
      sock = s;
      const send = (bytes: Uint8Array) => { messages.push({ dir: 'out', hex: Buffer.from(bytes).toString('hex') }); s.write(bytes); };
      send(encodeMessage(CAPTURE_OPEN, ctx));
      s.on('error', () => { /* the peer may reset after our NOTIFICATION */ });
      s.on('data', (chunk: Buffer) => {
        if (done) return;
        try {
          framer.push(chunk);
          for (let m = framer.next(); m !== undefined && !done; m = framer.next()) {
            messages.push({ dir: 'in', hex: Buffer.from(m).toString('hex') });
            const d = decodeMessage(m, ctx);
            const msg = d.message;
            if (msg.type === 'open') { ctx = captureContext(msg); send(KEEPALIVE); }
            if (msg.type === 'update') {
              for (const n of [...msg.nlri, ...(msg.mpReach?.nlri ?? [])]) seen.add(formatPrefix(n.prefix));
              if (expected.every((p) => seen.has(p))) {
                done = true;
                clearTimeout(timer);
                if (announce !== undefined) {
                  for (const u of announce(ctx)) send(u);
                  setInterval(() => s.write(KEEPALIVE), 20_000);
                  resolvePromise(messages.slice());
                  return;
                }
                send(encodeMessage({ type: 'notification', code: 6, subcode: 2, data: encodeShutdownCommunication('capture complete') }, ctx));
                s.end();
                server.close();
                resolvePromise(messages);
              }
            }
            if (msg.type === 'notification') throw new Error(`peer sent NOTIFICATION ${msg.code}/${msg.subcode}`);
          }
        } catch (err) {
          s.destroy(); server.close(); clearTimeout(timer); reject(err as Error);
        }
      });
    });
    const timer = setTimeout(() => {
      sock?.destroy(); server.close();
      reject(new Error(`capture timed out; saw ${[...seen].join(', ') || 'no prefixes'}, ${messages.length} messages`));
    }, timeoutMs);
    server.listen(179, address);
  });
}

export const BIRD_CONF = `router id 10.0.0.2;
protocol device {}
protocol static s4 { ipv4; route 198.51.100.0/24 blackhole; route 203.0.113.0/25 blackhole; }
protocol static s6 { ipv6; route 2001:db8:1::/48 blackhole; route 2001:db8:2::/64 blackhole; }
filter decorate {
  bgp_med = 50;
  bgp_community.add((65001,100));
  if net = 198.51.100.0/24 || net = 2001:db8:1::/48 then bgp_community.add((65535,65281));
  bgp_large_community.add((65001,1,2));
  bgp_ext_community.add((rt, 65001, 7));
  accept;
}
protocol bgp cap {
  local 10.0.0.2 as 65001; neighbor 10.0.0.1 as 65000;
  connect delay time 1; connect retry time 1;
  ipv4 { import none; export filter decorate; };
  ipv6 { import none; next hop address fd00::2; export filter decorate; };
}
`;

export const FRR_CONF = `frr defaults datacenter
hostname cap
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 10.0.0.1 remote-as 65000
 neighbor 10.0.0.1 timers connect 1
 address-family ipv4 unicast
  network 198.51.100.0/24
  network 203.0.113.0/25
  neighbor 10.0.0.1 activate
  neighbor 10.0.0.1 route-map TAG out
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:1::/48
  network 2001:db8:2::/64
  neighbor 10.0.0.1 activate
  neighbor 10.0.0.1 route-map TAG out
 exit-address-family
!
route-map TAG permit 10
 set metric 50
 set community 65002:100 no-export
 set large-community 65002:1:2
 set extcommunity rt 65002:7
!
`;

const GOBGP_TOML = `[global.config]
  as = 65003
  router-id = "10.0.0.2"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.0.1"
    peer-as = 65000
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`;

interface PeerRecipe {
  readonly version: () => string;
  readonly description: string;
  start(topo: Topology, ns: string): Promise<void>;
}

const RECIPES: Readonly<Record<string, PeerRecipe>> = {
  bird: {
    version: () => sh('sh', ['-c', 'bird --version 2>&1']).trim(),
    description: 'BIRD eBGP AS 65001 over IPv4, v4+v6 unicast, MED 50, communities (65001,100) [+no-export], large (65001,1,2), ext rt 65001:7',
    async start(topo, ns) { await BirdPeer.start(topo, ns, BIRD_CONF); },
  },
  frr: {
    version: () => sh('/usr/lib/frr/bgpd', ['--version']).split('\n')[0]?.trim() ?? 'frr',
    description: 'FRR bgpd eBGP AS 65002 over IPv4, v4+v6 unicast, MED 50, communities 65002:100 no-export, large 65002:1:2, ext rt 65002:7',
    async start(topo, ns) { await FrrPeer.start(topo, ns, FRR_CONF); },
  },
  gobgp: {
    version: () => sh('gobgpd', ['--version']).trim(),
    description: 'GoBGP eBGP AS 65003 over IPv4, v4+v6 unicast, MED 50, communities 65003:100 (+no-export), large 65003:1:2, ext rt 65003:7',
    async start(topo, ns) {
      const g = await GobgpPeer.start(topo, ns, GOBGP_TOML);
      const common = ['origin', 'igp', 'med', '50', 'large-community', '65003:1:2', 'rt', '65003:7'];
      g.cli('global', 'rib', 'add', '198.51.100.0/24', 'nexthop', '10.0.0.2', 'community', '65003:100,no-export', ...common);
      g.cli('global', 'rib', 'add', '203.0.113.0/25', 'nexthop', '10.0.0.2', 'community', '65003:100', ...common);
      g.cli('global', 'rib', '-a', 'ipv6', 'add', '2001:db8:1::/48', 'nexthop', 'fd00::2', 'community', '65003:100,no-export', ...common);
      g.cli('global', 'rib', '-a', 'ipv6', 'add', '2001:db8:2::/64', 'nexthop', 'fd00::2', 'community', '65003:100', ...common);
    },
  },
};

const HERE = dirname(fileURLToPath(import.meta.url));
/** This script, compiled (for `ip netns exec ... node CAPTURE_SCRIPT --serve|--announce FILE`). */
export const CAPTURE_SCRIPT = fileURLToPath(import.meta.url);
/** test/fixtures/bgp in the source tree (this file runs from dist/test/helpers). */
export const FIXTURE_DIR = resolve(HERE, '../../../test/fixtures/bgp');

/** Run one capture against a real peer (`bird`, `frr` or `gobgp`) in fresh namespaces. */
export async function capture(name: string): Promise<CaptureFixture> {
  const recipe = RECIPES[name];
  if (recipe === undefined) throw new Error(`unknown peer ${name}; choose from ${Object.keys(RECIPES).join(', ')}`);
  return captureOne(name, recipe);
}

async function captureOne(name: string, recipe: PeerRecipe): Promise<CaptureFixture> {
  const topo = new Topology('cap');
  try {
    const us = topo.ns('us');
    const peer = topo.ns('peer');
    topo.link(us, 'veu', ['10.0.0.1/24', 'fd00::1/64'], peer, 'vep', ['10.0.0.2/24', 'fd00::2/64']);
    const out = join(sh('mktemp', ['-d']).trim(), 'capture.json');
    topo.defer(() => { sh('rm', ['-rf', dirname(out)]); });
    const server = new Proc('ip', ['netns', 'exec', us, process.execPath, fileURLToPath(import.meta.url), '--serve', out]);
    topo.defer(() => server.stop());
    await pollUntil(() => sh('ip', ['netns', 'exec', us, 'ss', '-ltnH', 'sport = :179']).includes('10.0.0.1'),
      { what: 'capture server listening', timeoutMs: 5000 });
    await recipe.start(topo, peer);
    await pollUntil(() => server.exited, { what: `${name} capture (${server.output.slice(-300)})`, timeoutMs: 40_000, intervalMs: 100 });
    if (server.child.exitCode !== 0) throw new Error(`${name} capture failed: ${server.output}`);
    const messages = JSON.parse(readFileSync(out, 'utf8')) as CapturedMessage[];
    return { peer: name, version: recipe.version(), description: recipe.description, expectedPrefixes: PREFIXES, messages };
  } finally {
    await topo.cleanup();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--serve' || argv[0] === '--announce') {
    const out = argv[1] ?? '/dev/stdout';
    const messages = await serveCapture('10.0.0.1', PREFIXES, 30_000, argv[0] === '--announce' ? announcements : undefined);
    writeFileSync(out, JSON.stringify(messages));
    return;
  }
  const names = argv.length > 0 ? argv : Object.keys(RECIPES);
  for (const name of names) {
    const recipe = RECIPES[name];
    if (recipe === undefined) throw new Error(`unknown peer ${name}; choose from ${Object.keys(RECIPES).join(', ')}`);
    const fixture = await captureOne(name, recipe);
    const file = join(FIXTURE_DIR, `capture-${name}.json`);
    writeFileSync(file, JSON.stringify(fixture, null, 1) + '\n');
    process.stdout.write(`${name}: ${fixture.messages.length} messages → ${file}\n`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bgp-capture: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
