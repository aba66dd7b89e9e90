/**
 * A remote node of the UDP backend written by hand, for udp-backend.test.ts: it builds and parses
 * the IP-in-UDP datagrams itself (no Tortie code on the wire path), so the test checks the wire
 * format, not our encoder against our decoder. Run inside a namespace:
 *   ip netns exec NS node udp-fake-node.js <bind address> <port> <peer node address> <its pod IP>
 * It answers ICMP echo requests sent to <its pod IP> (its "pod"), and takes JSON lines on stdin:
 *   {"op":"ping","from":IP,"to":IP,"count":N}  echo requests from its pod to a pod behind the peer
 *   {"op":"garbage","count":N}                  random datagrams to the peer
 * Each event is a JSON line on stdout: {"ready"}, {"echoReply":{from,to,seq,ttl}}, {"echoRequest":{...}}.
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { formatAddress, parseAddress } from '../../common/prefix.js';

const [bindAddr = '', portText = '8285', peer = '', podIp = ''] = process.argv.slice(2);
const port = Number(portText);
const sock = createSocket('udp4');
const emit = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  if (b.length % 2 === 1) s += (b[b.length - 1] ?? 0) << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An IPv4 ICMP echo (request type 8, reply type 0) with a 32-byte payload. */
function echo(type: 0 | 8, src: string, dst: string, id: number, seq: number, payload: Uint8Array = new Uint8Array(32)): Buffer {
  const p = Buffer.alloc(20 + 8 + payload.length);
  p[0] = 0x45; p.writeUInt16BE(p.length, 2); p[8] = 64; p[9] = 1;
  p.set(parseAddress(src).bytes, 12); p.set(parseAddress(dst).bytes, 16);
  p.writeUInt16BE(checksum(p.subarray(0, 20)), 10);
  p[20] = type; p.writeUInt16BE(id, 24); p.writeUInt16BE(seq, 26); p.set(payload, 28);
  p.writeUInt16BE(checksum(p.subarray(20)), 22);
  return p;
}

sock.on('message', (msg, rinfo) => {
  if (msg.length < 28 || (msg[0] ?? 0) >> 4 !== 4 || msg[9] !== 1) return;
  const src = formatAddress(msg.subarray(12, 16));
  const dst = formatAddress(msg.subarray(16, 20));
  const ihl = ((msg[0] ?? 0) & 0x0f) * 4;
  const type = msg[ihl];
  const id = msg.readUInt16BE(ihl + 4);
  const seq = msg.readUInt16BE(ihl + 6);
  const info = { from: src, to: dst, seq, ttl: msg[8], via: rinfo.address, headerOk: checksum(msg.subarray(0, ihl)) === 0 };
  if (type === 8) {
    emit({ echoRequest: info });
    if (dst === podIp) sock.send(echo(0, dst, src, id, seq, msg.subarray(ihl + 8)), port, rinfo.address);
  } else if (type === 0) {
    emit({ echoReply: info });
  } else if (type === 3) {
    emit({ unreachable: { ...info, code: msg[ihl + 1] } });
  }
});

sock.bind(port, bindAddr, () => { emit({ ready: true }); });

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { op: string; from?: string; to?: string; count?: number };
  if (cmd.op === 'ping') {
    for (let seq = 1; seq <= (cmd.count ?? 1); seq++) sock.send(echo(8, cmd.from ?? podIp, cmd.to ?? '', 0x7777, seq), port, peer);
  } else if (cmd.op === 'garbage') {
    let left = cmd.count ?? 1;
    // Sent in slices so the socket buffer is not the thing that drops them.
    const burst = (): void => {
      for (let i = 0; i < 200 && left > 0; i++, left--) sock.send(randomBytes(1 + Math.floor(Math.random() * 1400)), port, peer);
      if (left > 0) setImmediate(burst); else emit({ garbageSent: cmd.count ?? 1 });
    };
    burst();
  }
});
