/**
 * BFD session FSM (RFC 5880 §6.8): inputs in, outputs asserted. The peer is played by hand with
 * packets built here, so each RFC rule shows as one exchange.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BfdSession, SLOW_TX_US, type BfdOutput, type BfdSessionParams } from '../../../bgp/bfd/session.js';
import { BfdDiag, BfdState, decodeControl, encodeControl, type BfdControlPacket } from '../../../bgp/bfd/packet.js';
import { signSha1 } from '../../../bgp/bfd/auth.js';

const P: BfdSessionParams = { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false };
const PEER_DISCR = 0xabc;

function peerPacket(over: Partial<BfdControlPacket> = {}): BfdControlPacket {
  return {
    diag: 0, state: BfdState.Down, poll: false, final: false, cpi: false, demand: false, detectMult: 3,
    myDiscr: PEER_DISCR, yourDiscr: 0, desiredMinTxUs: 200_000, requiredMinRxUs: 50_000, requiredMinEchoRxUs: 0, ...over,
  };
}
const rx = (s: BfdSession, over: Partial<BfdControlPacket> = {}) => {
  const packet = peerPacket(over);
  return s.process({ type: 'Receive', packet, raw: encodeControl(packet) });
};
const sent = (out: readonly BfdOutput[]) => out.flatMap((o) => (o.type === 'Send' ? [decodeControl(o.bytes)] : []));
const changes = (out: readonly BfdOutput[]) => out.flatMap((o) => (o.type === 'StateChange' ? [`${o.from}->${o.to}/${o.diag}`] : []));
const armTx = (out: readonly BfdOutput[]) => out.flatMap((o) => (o.type === 'ArmTxTimer' ? [o.ms] : []));
const armDetect = (out: readonly BfdOutput[]) => out.flatMap((o) => (o.type === 'ArmDetectTimer' ? [o.ms] : []));

function upSession(params = P, random = () => 0.5): BfdSession {
  const s = new BfdSession(7, params, { random });
  s.process({ type: 'Start' });
  rx(s, { state: BfdState.Init, yourDiscr: 7 });
  assert.equal(s.state, 'Up');
  return s;
}

test('active start: Down packets at >= 1 s (§6.8.3), Your Discriminator 0, no echo', () => {
  const s = new BfdSession(7, P, { random: () => 0 });
  const out = s.process({ type: 'Start' });
  const [p] = sent(out);
  assert.deepEqual({ state: p?.state, yourDiscr: p?.yourDiscr, myDiscr: p?.myDiscr, tx: p?.desiredMinTxUs, rx: p?.requiredMinRxUs, echo: p?.requiredMinEchoRxUs, mult: p?.detectMult },
    { state: BfdState.Down, yourDiscr: 0, myDiscr: 7, tx: SLOW_TX_US, rx: 100_000, echo: 0, mult: 3 });
  assert.deepEqual(armTx(out), [750], 'interval reduced by 25% with random 0');
  assert.deepEqual(armTx(s.process({ type: 'TxTimerExpired' })), [750]);
});

test('jitter (§6.8.7): 0-25% off, 10-25% off with Detect Mult 1', () => {
  for (const [mult, r, ms] of [[3, 0, 750], [3, 0.999999, 999.999], [1, 0, 750], [1, 0.999999, 899.99985]] as const) {
    const s = new BfdSession(7, { ...P, detectMult: mult }, { random: () => r });
    const got = armTx(s.process({ type: 'Start' }))[0] ?? 0;
    assert.ok(Math.abs(got - ms) < 0.01, `mult ${mult} random ${r}: ${got} ms`);
  }
});

test('three-way handshake: Down -rx Down-> Init -rx Up-> Up; Down -rx Init-> Up', () => {
  const s = new BfdSession(7, P, { random: () => 0.5 });
  s.process({ type: 'Start' });
  let out = rx(s, { state: BfdState.Down });
  assert.deepEqual(changes(out), ['Down->Init/0']);
  assert.deepEqual(sent(out).map((p) => [p.state, p.yourDiscr]), [[BfdState.Init, PEER_DISCR]], 'sends Init at once with the peer discriminator');
  out = rx(s, { state: BfdState.Up, yourDiscr: 7 });
  assert.deepEqual(changes(out), ['Init->Up/0']);
  const b = new BfdSession(8, P, { random: () => 0.5 });
  b.process({ type: 'Start' });
  assert.deepEqual(changes(rx(b, { state: BfdState.Init, yourDiscr: 8 })), ['Down->Up/0']);
  assert.deepEqual(changes(rx(b, { state: BfdState.Down, yourDiscr: 8 })), ['Up->Down/3'], 'Up -rx Down-> Down, Neighbor Signaled Session Down');
});

test('Up starts a Poll Sequence to the configured rate; Final ends it and the fast rate applies (§6.5, §6.8.3)', () => {
  const s = new BfdSession(7, P, { random: () => 0.999999 });
  s.process({ type: 'Start' });
  const out = rx(s, { state: BfdState.Init, yourDiscr: 7 });
  const [p] = sent(out);
  assert.equal(sent(out).length, 1, 'one packet for the state change and the poll');
  assert.deepEqual({ poll: p?.poll, final: p?.final, state: p?.state, tx: p?.desiredMinTxUs }, { poll: true, final: false, state: BfdState.Up, tx: 100_000 });
  // Until the Final, a larger interval is not used yet: 100 ms is smaller than 1 s, so it is.
  assert.equal(s.snapshot().txIntervalUs, 100_000);
  assert.equal(s.snapshot().pollPending, true);
  assert.deepEqual(sent(s.process({ type: 'TxTimerExpired' })).map((q) => q.poll), [true], 'P repeats until F');
  rx(s, { state: BfdState.Up, yourDiscr: 7, final: true });
  assert.equal(s.snapshot().pollPending, false);
  assert.deepEqual(sent(s.process({ type: 'TxTimerExpired' })).map((q) => q.poll), [false]);
});

test('raising Desired Min TX while Up keeps the old rate until the Final; lowering Required Min RX keeps the old detection time', () => {
  const s = upSession();
  rx(s, { state: BfdState.Up, yourDiscr: 7, final: true, desiredMinTxUs: 10_000, requiredMinRxUs: 10_000 });
  assert.equal(s.snapshot().txIntervalUs, 100_000);
  assert.equal(s.snapshot().detectTimeUs, 300_000, '3 x max(our rx 100 ms, peer tx 10 ms)');
  const out = s.process({ type: 'SetParams', params: { ...P, desiredMinTxUs: 500_000, requiredMinRxUs: 20_000 } });
  assert.deepEqual(sent(out).map((q) => [q.poll, q.desiredMinTxUs, q.requiredMinRxUs]), [[true, 500_000, 20_000]]);
  assert.equal(s.snapshot().txIntervalUs, 100_000, 'old tx until Final');
  assert.equal(s.snapshot().detectTimeUs, 300_000, 'old rx until Final');
  const fin = rx(s, { state: BfdState.Up, yourDiscr: 7, final: true, desiredMinTxUs: 10_000, requiredMinRxUs: 10_000 });
  assert.equal(s.snapshot().txIntervalUs, 500_000);
  assert.deepEqual(armDetect(fin), [60], 'detect timer re-armed: 3 x max(20 ms, 10 ms)');
});

test('a received Poll is answered at once with Final, P clear (§6.8.6)', () => {
  const s = upSession();
  rx(s, { state: BfdState.Up, yourDiscr: 7, final: true });
  const out = rx(s, { state: BfdState.Up, yourDiscr: 7, poll: true, desiredMinTxUs: 300_000 });
  assert.deepEqual(sent(out).map((q) => [q.final, q.poll]), [[true, false]]);
  assert.equal(s.snapshot().remoteMinTxUs, 300_000);
});

test('detection time: peer Detect Mult x max(our Required Min RX, peer Desired Min TX); expiry -> Down/1', () => {
  const s = upSession();
  const out = rx(s, { state: BfdState.Up, yourDiscr: 7, final: true, detectMult: 5, desiredMinTxUs: 200_000 });
  assert.deepEqual(armDetect(out), [1000]);
  const exp = s.process({ type: 'DetectTimerExpired' });
  assert.deepEqual(changes(exp), ['Up->Down/1']);
  const [p] = sent(exp);
  assert.deepEqual({ state: p?.state, diag: p?.diag, yourDiscr: p?.yourDiscr, tx: p?.desiredMinTxUs }, { state: BfdState.Down, diag: 1, yourDiscr: 0, tx: SLOW_TX_US },
    'Down with diag 1, Your Discriminator reset, back to the slow rate');
});

test('peer AdminDown -> Down/3, and Down does not go Up on an Up packet (needs the handshake)', () => {
  const s = upSession();
  assert.deepEqual(changes(rx(s, { state: BfdState.AdminDown, yourDiscr: 7, diag: BfdDiag.AdministrativelyDown })), ['Up->Down/3']);
  assert.deepEqual(changes(rx(s, { state: BfdState.Up, yourDiscr: 7 })), []);
  assert.equal(s.state, 'Down');
});

test('AdminDown: state AdminDown/7 sent at once and repeated; received packets change nothing; AdminUp -> Down', () => {
  const s = upSession();
  let out = s.process({ type: 'AdminDown' });
  assert.deepEqual(changes(out), ['Up->AdminDown/7']);
  assert.deepEqual(sent(out).map((q) => [q.state, q.diag]), [[BfdState.AdminDown, 7]]);
  assert.deepEqual(sent(s.process({ type: 'AdminDown' })).map((q) => q.state), [BfdState.AdminDown]);
  out = rx(s, { state: BfdState.Init, yourDiscr: 7 });
  assert.deepEqual(changes(out), []);
  assert.ok(out.some((o) => o.type === 'Discard'));
  assert.deepEqual(changes(s.process({ type: 'AdminUp' })), ['AdminDown->Down/0']);
});

test('passive role (§6.1): silent until the peer speaks, then answers', () => {
  const s = new BfdSession(7, { ...P, passive: true }, { random: () => 0.5 });
  assert.deepEqual(s.process({ type: 'Start' }), []);
  assert.deepEqual(sent(s.process({ type: 'TxTimerExpired' })), []);
  assert.deepEqual(sent(rx(s)).map((q) => q.state), [BfdState.Init]);
});

test('Required Min RX 0 from the peer stops periodic sending (§6.8.7)', () => {
  const s = upSession();
  rx(s, { state: BfdState.Up, yourDiscr: 7, final: true, requiredMinRxUs: 0 });
  assert.deepEqual(s.process({ type: 'TxTimerExpired' }), []);
});

test('keyed SHA1: unsigned or wrongly signed packets are discarded, signed ones accepted, replay refused (meticulous)', () => {
  const key = Buffer.from('k3y');
  const auth = { type: 'meticulous-keyed-sha1', keyId: 2, key } as const;
  const s = new BfdSession(7, { ...P, auth }, { random: () => 0.5 });
  const [first] = sent(s.process({ type: 'Start' }));
  assert.deepEqual({ type: first?.auth?.type, keyId: first?.auth?.keyId }, { type: 5, keyId: 2 });
  const signed = (seq: number, k: Uint8Array = key) => {
    const packet = peerPacket({ auth: { type: 5, keyId: 2, sequence: seq, digest: new Uint8Array(20) } });
    const raw = encodeControl(packet);
    signSha1(raw, k);
    return s.process({ type: 'Receive', packet: decodeControl(raw), raw });
  };
  assert.ok(rx(s).some((o) => o.type === 'Discard'), 'unsigned');
  assert.ok(signed(10, Buffer.from('other')).some((o) => o.type === 'Discard'), 'wrong key');
  assert.deepEqual(changes(signed(10)), ['Down->Init/0']);
  assert.ok(signed(10).some((o) => o.type === 'Discard'), 'meticulous replay');
  assert.ok(!signed(11).some((o) => o.type === 'Discard'));
});

test('C bit (RFC 5880 §4.1): set only by an engine independent of the control plane (tortie-bfd)', () => {
  const cbit = (deps: ConstructorParameters<typeof BfdSession>[2]): boolean[] =>
    new BfdSession(7, P, deps).process({ type: 'Start' }).flatMap((o) => (o.type === 'Send' ? [decodeControl(o.bytes).cpi] : []));
  assert.deepEqual(cbit({ random: () => 0 }), [false]);
  assert.deepEqual(cbit({ random: () => 0, controlPlaneIndependent: true }), [true]);
});
