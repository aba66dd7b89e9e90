/**
 * bgp/wire codec throughput (performance.md §2): decode and encode rates for 1-prefix and
 * 500-prefix IPv4 UPDATEs (and 200-prefix IPv6 MP_REACH UPDATEs), realistic attributes
 * (ORIGIN, AS_PATH of 3, NEXT_HOP, MED, 2 communities, 1 large community). Prints JSON;
 * rates are per CPU-second of this process.
 *
 *   npx tsc -p tsconfig.json; node dist/bench/wire/codec-bench.js [seconds-per-case, default 1]
 */
import { decodeMessage, encodeMessage } from '../../bgp/wire/message.js';
import { MessageFramer } from '../../bgp/wire/framer.js';
import { encodePreparedUpdates, encodeUpdates, prepareAttributes } from '../../bgp/wire/update-encoder.js';
import { INITIAL_CONTEXT, type CodecContext, type Nlri, type PathAttributes, type UpdateMessage } from '../../bgp/wire/types.js';
import { parseAddress } from '../../common/prefix.js';

const CTX: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true };
const ATTRS: PathAttributes = {
  origin: 0, asPath: [{ type: 2, asns: [65001, 65002, 4200000000] }], med: 50,
  communities: [0xfde90064, 0xffffff01], largeCommunities: [{ globalAdmin: 65001, localData1: 1, localData2: 2 }],
};
const NH4 = parseAddress('192.0.2.1').bytes;
const NH6 = [parseAddress('2001:db8::1').bytes];

function v4(n: number, offset = 0): Nlri[] {
  return Array.from({ length: n }, (_, i) => {
    const k = i + offset;
    return { prefix: { family: 4 as const, bytes: Uint8Array.of(10, (k >> 16) & 255, (k >> 8) & 255, k & 255), length: 32 - 8 * (k % 2) } };
  }).map((n) => ({ prefix: { ...n.prefix, bytes: n.prefix.length === 24 ? Uint8Array.of(n.prefix.bytes[0] ?? 0, n.prefix.bytes[1] ?? 0, n.prefix.bytes[2] ?? 0, 0) : n.prefix.bytes } }));
}
function v6(n: number): Nlri[] {
  return Array.from({ length: n }, (_, i) => ({ prefix: { family: 6 as const, bytes: Uint8Array.of(0x20, 1, 0xd, 0xb8, i >> 8, i & 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), length: 48 } }));
}

/**
 * Run `fn` repeatedly for about `seconds` of this process's CPU time; returns operations per
 * CPU-second (the machine is shared, so wall time would measure the neighbours too).
 */
function rate(seconds: number, fn: () => void): number {
  for (let i = 0; i < 200; i++) fn(); // warm up
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  let ops = 0;
  const t0 = cpu();
  let now = t0;
  while (now - t0 < seconds) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
    now = cpu();
  }
  return ops / (now - t0);
}

interface CaseResult { updatesPerSec: number; prefixesPerSec: number; bytes: number }

function main(): void {
  const seconds = Number(process.argv[2] ?? '1') || 1;
  const out: Record<string, CaseResult | number | string> = { node: process.version, seconds };
  let sink = 0;
  const cases: Array<[string, Uint8Array, number]> = [];
  const [one] = encodeUpdates({ afi: 1, safi: 1 }, ATTRS, v4(1), NH4, CTX);
  const [five] = encodeUpdates({ afi: 1, safi: 1 }, ATTRS, v4(500), NH4, CTX);
  const [six] = encodeUpdates({ afi: 2, safi: 1 }, ATTRS, v6(200), NH6, CTX);
  if (one === undefined || five === undefined || six === undefined) throw new Error('encoder produced nothing');
  cases.push(['decode 1-prefix IPv4', one, 1], ['decode 500-prefix IPv4', five, 500], ['decode 200-prefix IPv6', six, 200]);
  for (const [name, bytes, n] of cases) {
    const r = rate(seconds, () => { const d = decodeMessage(bytes, CTX); sink += d.problems.length; });
    out[name] = { updatesPerSec: Math.round(r), prefixesPerSec: Math.round(r * n), bytes: bytes.length };
  }
  // Framing + decoding a stream of 1-prefix UPDATEs delivered in 64 KiB chunks.
  const stream = new Uint8Array(65536 - (65536 % one.length));
  for (let p = 0; p + one.length <= stream.length; p += one.length) stream.set(one, p);
  const perChunk = stream.length / one.length;
  const framed = rate(seconds, () => {
    const f = new MessageFramer(CTX);
    f.push(stream);
    for (let m = f.next(); m !== undefined; m = f.next()) sink += decodeMessage(m, CTX).problems.length;
  });
  out['frame+decode 1-prefix IPv4 stream'] = { updatesPerSec: Math.round(framed * perChunk), prefixesPerSec: Math.round(framed * perChunk), bytes: one.length };

  const nlri1 = v4(1), nlri500 = v4(500), nlri6 = v6(200);
  const enc1 = rate(seconds, () => { sink += encodeUpdates({ afi: 1, safi: 1 }, ATTRS, nlri1, NH4, CTX).length; });
  out['encodeUpdates 1-prefix IPv4'] = { updatesPerSec: Math.round(enc1), prefixesPerSec: Math.round(enc1), bytes: one.length };
  const prep4 = prepareAttributes({ afi: 1, safi: 1 }, ATTRS, NH4, CTX);
  const encP1 = rate(seconds, () => { sink += encodePreparedUpdates(prep4, nlri1).length; });
  out['encodePreparedUpdates 1-prefix IPv4 (cached attribute block)'] = { updatesPerSec: Math.round(encP1), prefixesPerSec: Math.round(encP1), bytes: one.length };
  const enc500 = rate(seconds, () => { sink += encodeUpdates({ afi: 1, safi: 1 }, ATTRS, nlri500, NH4, CTX).length; });
  out['encodeUpdates 500-prefix IPv4'] = { updatesPerSec: Math.round(enc500), prefixesPerSec: Math.round(enc500 * 500), bytes: five.length };
  const enc6 = rate(seconds, () => { sink += encodeUpdates({ afi: 2, safi: 1 }, ATTRS, nlri6, NH6, CTX).length; });
  out['encodeUpdates 200-prefix IPv6'] = { updatesPerSec: Math.round(enc6), prefixesPerSec: Math.round(enc6 * 200), bytes: six.length };
  const msg1: UpdateMessage = { type: 'update', withdrawn: [], attributes: { ...ATTRS, nextHop: NH4 }, nlri: nlri1 };
  const msg500: UpdateMessage = { ...msg1, nlri: nlri500 };
  const em1 = rate(seconds, () => { sink += encodeMessage(msg1, CTX).length; });
  out['encodeMessage 1-prefix IPv4'] = { updatesPerSec: Math.round(em1), prefixesPerSec: Math.round(em1), bytes: one.length };
  const em500 = rate(seconds, () => { sink += encodeMessage(msg500, CTX).length; });
  out['encodeMessage 500-prefix IPv4'] = { updatesPerSec: Math.round(em500), prefixesPerSec: Math.round(em500 * 500), bytes: five.length };
  out['checksum'] = sink % 7;
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}

main();
