/**
 * An export policy change on an Established session (BgpSpeaker.updatePeer with only `export`
 * changed, as a reload or `configure` does it): the peer moves to the update group of its new
 * export and is sent the difference in slices (bgp/speaker/table-sync.ts with a regroup's
 * `from`), with the event loop running between them. Checked on the peer's own view, decoded
 * from what it received: it ends up holding exactly the new export, routes changed by the peer
 * meanwhile included; a route whose export did not change is not sent again (neither withdrawn
 * and re-announced nor re-announced); the advertised count is what the peer holds throughout.
 * With ADD-PATH the same per path: a refused path is withdrawn by its path id, the other paths
 * of the prefix keep theirs and are not sent again.
 *
 *   raw tester(s) ──▶ BgpSpeaker AS 65000 (loopback) ──▶ raw monitor AS 65003 (export policy changes)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix, type Prefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, startLoopbackSpeaker } from '../../helpers/bgp-session-peers.js';
import type { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import { SYNC_SLICE } from '../../../bgp/speaker/table-sync.js';
import type { PolicyConfig } from '../../../bgp/speaker/peer-config.js';
import type { BgpMessage, PathAttributes } from '../../../bgp/wire/types.js';

const p24 = (i: number): Prefix => ({ family: 4, bytes: Uint8Array.of(20 + (i >>> 16), (i >>> 8) & 255, i & 255, 0), length: 24 });
const TAG = ((65000 << 16) | 99) >>> 0;
const attrsVia = (asns: number[], communities?: number[]): PathAttributes => ({ origin: 0, asPath: [{ type: 2, asns }], nextHop: Uint8Array.of(192, 0, 2, 1), ...(communities ? { communities } : {}) });

/** What a raw peer holds after the UPDATEs it decoded: by prefix and path id, the AS_PATH and communities. */
function view(messages: readonly BgpMessage[]): Map<string, string> {
  const s = new Map<string, string>();
  for (const m of messages) {
    if (m.type !== 'update') continue;
    for (const w of m.withdrawn) s.delete(`${formatPrefix(w.prefix)}#${w.pathId ?? 0}`);
    const v = `${m.attributes.asPath?.flatMap((x) => x.asns).join(' ')}|${(m.attributes.communities ?? []).join(',')}`;
    for (const n of m.nlri) s.set(`${formatPrefix(n.prefix)}#${n.pathId ?? 0}`, v);
  }
  return s;
}

/** Every (prefix, path id) entry the messages announce or withdraw. */
function touched(messages: readonly BgpMessage[]): Set<string> {
  const s = new Set<string>();
  for (const m of messages) {
    if (m.type !== 'update') continue;
    for (const n of [...m.withdrawn, ...m.nlri]) s.add(`${formatPrefix(n.prefix)}#${n.pathId ?? 0}`);
  }
  return s;
}

/** A rule's prefix match: the /24s in `prefix`. */
const within = (prefix: string) => ({ prefixes: [{ prefix: parsePrefix(prefix), ge: 24, le: 24 }] });

describe('BgpSpeaker: an export policy change on an Established session', () => {
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  let probing = false;
  after(async () => { probing = false; for (const r of raws) r.destroy(); await sp?.stop(); });

  it('sends the difference in slices, and the peer ends up with exactly the new export while routes change', async () => {
    const ROUTES = 60_000;
    const port = 33000 + (process.pid % 20000);
    const monitorCfg = passivePeerConfig('monitor', '127.0.6.2', 65003, { holdTime: 0 });
    const { speaker, status } = await startLoopbackSpeaker(port, [passivePeerConfig('tester', '127.0.6.1', 65101, { holdTime: 0 }), monitorCfg]);
    sp = speaker;
    const tester = await openRawPeer(port, '127.0.6.1', 65101, 0x0a000601);
    raws.push(tester);
    await pollUntil(() => status('tester')?.state === 'Established', { what: 'tester Established' });
    // The tester's table, kept as a model: blocks of 1000 via AS 65200 (the new policy refuses
    // them), 65201 (it tags them) and 65202 (it leaves them as they are).
    const model = new Map<number, PathAttributes>();
    const send = (idx: readonly number[], attrs: PathAttributes | undefined): void => {
      for (let k = 0; k < idx.length; k += 1000) {
        const part = idx.slice(k, k + 1000).map((i) => ({ prefix: p24(i) }));
        tester.send(attrs ? { type: 'update', withdrawn: [], nlri: part, attributes: attrs } : { type: 'update', withdrawn: part, nlri: [], attributes: { origin: 0, asPath: [] } });
      }
      for (const i of idx) if (attrs) model.set(i, attrs); else model.delete(i);
    };
    const via = (i: number): number => 65200 + (Math.floor(i / 1000) % 3);
    for (const v of [65200, 65201, 65202]) send(Array.from({ length: ROUTES }, (_, i) => i).filter((i) => via(i) === v), attrsVia([65101, v]));
    await pollUntil(() => speaker.bestRoutes().length === ROUTES, { what: `the speaker holds ${ROUTES} routes`, timeoutMs: 60_000 });
    const monitor = await openRawPeer(port, '127.0.6.2', 65003, 0x0a000602);
    raws.push(monitor);
    await pollUntil(() => view(monitor.received).size === ROUTES && status('monitor')?.prefixes.advertised === ROUTES, { what: 'the monitor holds the table', timeoutMs: 60_000 });
    const before = view(monitor.received);
    const mark = monitor.received.length;
    const transitions = status('monitor')?.establishedTransitions;

    const policy: PolicyConfig = { default: 'accept', rules: [
      { match: { asPathPrefix: [65101, 65200] }, action: 'reject' },
      { match: { asPathPrefix: [65101, 65201] }, action: 'accept', set: { addCommunities: [TAG] } },
    ] };
    /** The new export of the model, as the monitor should see it. */
    const expected = (): Map<string, string> => {
      const m = new Map<string, string>();
      for (const [i, a] of model) {
        const asns = a.asPath?.flatMap((x) => x.asns) ?? [];
        if (asns[1] === 65200) continue;
        m.set(`${formatPrefix(p24(i))}#0`, `${[65000, ...asns].join(' ')}|${[...(a.communities ?? []).map((c) => c >>> 0), ...(asns[1] === 65201 ? [TAG] : [])].join(',')}`);
      }
      return m;
    };
    // Routes changed while the difference is being sent (the first time the probe sees the count
    // part-way): at both ends of the table, so before and after the walk passes them.
    const changedIdx = [0, 1, 2, 1000, 1001, 2000, ROUTES - 1, ROUTES - 2, ROUTES - 1001, ROUTES - 2001, ROUTES - 3001];
    const change = (): void => {
      send([0, ROUTES - 1], undefined); // withdrawn: a refused one (passed) and one at the end
      send([1, ROUTES - 1001], attrsVia([65101, 65202])); // refused before, exported now
      send([1000, ROUTES - 2], attrsVia([65101, 65200])); // exported before, refused now
      send([2000, ROUTES - 2001], attrsVia([65101, 65202], [(65101 << 16) | 7])); // new attributes
      send([2, 1001, ROUTES - 3001], attrsVia([65101, 65201], [(65101 << 16) | 8])); // tagged, with another community
      send([ROUTES, ROUTES + 1, ROUTES + 2], attrsVia([65101, 65201])); // new ones
    };
    const seen: number[] = [];
    let changedAt: number | undefined;
    probing = true;
    const probe = (): void => {
      const n = status('monitor')?.prefixes.advertised ?? 0;
      if (seen.at(-1) !== n) seen.push(n);
      if (changedAt === undefined && n < ROUTES && seen.length > 1) { changedAt = n; change(); }
      if (probing) setImmediate(probe);
    };
    const unchangedFinal = expected().size;
    assert.equal(speaker.updatePeer({ ...monitorCfg, export: policy }), true);
    setImmediate(probe);
    await pollUntil(() => changedAt !== undefined || status('monitor')?.prefixes.advertised === unchangedFinal, { what: 'the regroup under way' });
    assert.ok(changedAt !== undefined, `the probe saw the advertised count part-way (saw ${JSON.stringify(seen.slice(0, 40))}): the difference went out in one pass`);
    const want = expected();
    await pollUntil(() => view(monitor.received).size === want.size && status('monitor')?.prefixes.advertised === want.size,
      { what: () => `the monitor holds ${want.size} routes (holds ${view(monitor.received).size}, advertised ${status('monitor')?.prefixes.advertised})`, timeoutMs: 60_000 });
    probing = false;

    assert.deepEqual(view(monitor.received), want, 'the monitor holds exactly the new export');
    const partway = seen.filter((n) => n > want.size && n < ROUTES);
    assert.ok(partway.length >= ROUTES / SYNC_SLICE / 2, `the probe ran between the slices (saw ${JSON.stringify(seen.slice(0, 40))})`);
    // routes whose export did not change (via 65202, untouched by the tester) were not sent again
    const sentAgain = touched(monitor.received.slice(mark));
    const changedKeys = new Set([...changedIdx, ROUTES, ROUTES + 1, ROUTES + 2].map((i) => `${formatPrefix(p24(i))}#0`));
    const stay = [...before.keys()].filter((k) => want.get(k) === before.get(k) && !changedKeys.has(k));
    assert.ok(stay.length >= ROUTES / 3 - 20, `${stay.length} routes stay as they were`);
    const resent = stay.filter((k) => sentAgain.has(k));
    assert.deepEqual(resent.slice(0, 5), [], `${resent.length} routes whose export did not change were sent again`);
    assert.equal(status('monitor')?.establishedTransitions, transitions, 'no session reset');
  });
});

describe('BgpSpeaker: an export policy change on an ADD-PATH session', () => {
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });

  it('withdraws the refused paths by their ids, re-announces the changed ones, leaves the others alone', async () => {
    const ROUTES = 20_000;
    const port = 34000 + (process.pid % 20000);
    const monitorCfg = passivePeerConfig('monitor', '127.0.7.3', 65003, { holdTime: 0, addPaths: { send: true, receive: false } });
    const { speaker, status } = await startLoopbackSpeaker(port, [
      passivePeerConfig('t1', '127.0.7.1', 65101, { holdTime: 0 }), passivePeerConfig('t2', '127.0.7.2', 65102, { holdTime: 0 }), monitorCfg,
    ]);
    sp = speaker;
    const t1 = await openRawPeer(port, '127.0.7.1', 65101, 0x0a000701);
    const t2 = await openRawPeer(port, '127.0.7.2', 65102, 0x0a000702);
    raws.push(t1, t2);
    await pollUntil(() => status('t1')?.state === 'Established' && status('t2')?.state === 'Established', { what: 'testers Established' });
    for (const [t, asn] of [[t1, 65101], [t2, 65102]] as const) {
      for (let k = 0; k < ROUTES; k += 1000) {
        t.send({ type: 'update', withdrawn: [], nlri: Array.from({ length: 1000 }, (_, j) => ({ prefix: p24(k + j) })), attributes: attrsVia([asn]) });
      }
    }
    await pollUntil(() => speaker.routes().length === 2 * ROUTES, { what: `the speaker holds ${2 * ROUTES} paths`, timeoutMs: 60_000 });
    const monitor = await openRawPeer(port, '127.0.7.3', 65003, 0x0a000703, { addPathReceive: true });
    raws.push(monitor);
    await pollUntil(() => view(monitor.received).size === 2 * ROUTES && status('monitor')?.prefixes.advertised === 2 * ROUTES,
      { what: () => `the monitor holds both paths of every prefix (${view(monitor.received).size})`, timeoutMs: 60_000 });
    assert.ok(status('monitor')?.capabilities.includes('ADD-PATH'));
    const before = view(monitor.received);
    const mark = monitor.received.length;
    // p24(i) for i < 8192 is in 20.0.0.0/11, 8192 <= i < 16384 in 20.32.0.0/11
    const policy: PolicyConfig = { default: 'accept', rules: [
      { match: { asPathPrefix: [65102], ...within('20.0.0.0/11') }, action: 'reject' },
      { match: { asPathPrefix: [65101], ...within('20.32.0.0/11') }, action: 'accept', set: { addCommunities: [TAG] } },
    ] };
    speaker.updatePeer({ ...monitorCfg, export: policy });
    const want = new Map<string, string>();
    for (const [k, v] of before) {
      const i = ((Number(k.split('.')[1]) << 8) | Number(k.split('.')[2]));
      const from2 = v.startsWith('65000 65102');
      if (from2 && i < 8192) continue;
      want.set(k, !from2 && i >= 8192 && i < 16384 ? `${v}${TAG}` : v);
    }
    assert.equal(want.size, 2 * ROUTES - 8192);
    await pollUntil(() => view(monitor.received).size === want.size && status('monitor')?.prefixes.advertised === want.size,
      { what: () => `the monitor holds ${want.size} paths (holds ${view(monitor.received).size}, advertised ${status('monitor')?.prefixes.advertised})`, timeoutMs: 60_000 });
    await pollUntil(() => { const v = view(monitor.received); return [...want].every(([k, x]) => v.get(k) === x); }, { what: 'the monitor holds exactly the new export, each path under its id' });
    assert.deepEqual(view(monitor.received), want);
    // only the refused and the tagged paths were sent: the others were not touched
    const sent = touched(monitor.received.slice(mark));
    const changed = [...before.keys()].filter((k) => want.get(k) !== before.get(k));
    assert.equal(changed.length, 2 * 8192);
    assert.deepEqual([...sent].filter((k) => want.get(k) === before.get(k)).slice(0, 5), [], 'paths whose export did not change were not sent again');
    assert.equal(sent.size, changed.length);
    for (const m of monitor.received.slice(mark)) {
      if (m.type !== 'update') continue;
      // a prefix whose other path is refused: only that path id is withdrawn
      for (const w of m.withdrawn) assert.ok(before.get(`${formatPrefix(w.prefix)}#${w.pathId}`)?.startsWith('65000 65102'), `withdrawn ${formatPrefix(w.prefix)}#${w.pathId}`);
    }
  });
});
