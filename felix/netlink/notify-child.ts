/**
 * Notification reader run as a child process by RtNetlink. The `netlink` package's native
 * binding aborts the whole process when a subscribed socket hits ENOBUFS (netlink(7): events
 * were dropped), so the socket lives here: if this process dies, the parent sees the exit,
 * treats it as "notifications lost", resyncs and starts a new reader. Frames on stdout:
 * u32 length of data, u16 message type, u16 zero, then the message payload (host order).
 *
 *   node notify-child.js <recvBufferBytes> <group,group,...>
 */
import { createNetlink, Protocol } from 'netlink';

const rcvbuf = Number(process.argv[2] ?? 8 << 20);
const groups = (process.argv[3] ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const sock = createNetlink(Protocol.ROUTE, { recvBufferSize: rcvbuf, sendBufferSize: 1 << 16, ref: true });
sock.on('error', (err: unknown) => {
  process.stderr.write(`netlink notification socket: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(75);
});
sock.on('message', (msgs) => {
  const parts: Buffer[] = [];
  for (const m of msgs) {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(m.data.length, 0);
    h.writeUInt16LE(m.type, 4);
    parts.push(h, m.data);
  }
  process.stdout.write(Buffer.concat(parts));
});
for (const g of groups) sock.addMembership(g);
// Tell the parent we are subscribed (a zero-length frame of type 0).
process.stdout.write(Buffer.alloc(8));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
