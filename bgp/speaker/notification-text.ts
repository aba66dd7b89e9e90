/**
 * NOTIFICATION code/subcode → the text BIRD prints ("Administrative shutdown", "Bad peer AS"),
 * so `show protocols` reads the same as birdc. Interim until bgp/wire's describeNotification.
 */
const TEXT: Record<number, [string, Record<number, string>]> = {
  1: ['Message header error', { 1: 'Connection not synchronized', 2: 'Bad message length', 3: 'Bad message type' }],
  2: ['OPEN message error', { 1: 'Unsupported version number', 2: 'Bad peer AS', 3: 'Bad BGP identifier', 4: 'Unsupported optional parameter', 6: 'Unacceptable hold time', 7: 'Required capability missing', 11: 'Role mismatch' }],
  3: ['UPDATE message error', { 1: 'Malformed attribute list', 2: 'Unrecognized well-known attribute', 3: 'Missing mandatory attribute', 4: 'Invalid attribute flags', 5: 'Invalid attribute length', 6: 'Invalid ORIGIN attribute', 8: 'Invalid NEXT_HOP attribute', 9: 'Optional attribute error', 10: 'Invalid network field', 11: 'Malformed AS_PATH' }],
  4: ['Hold timer expired', {}],
  5: ['Finite state machine error', { 1: 'Unexpected message in OpenSent state', 2: 'Unexpected message in OpenConfirm state', 3: 'Unexpected message in Established state' }],
  6: ['Cease', { 1: 'Maximum number of prefixes reached', 2: 'Administrative shutdown', 3: 'Peer de-configured', 4: 'Administrative reset', 5: 'Connection rejected', 6: 'Other configuration change', 7: 'Connection collision resolution', 8: 'Out of resources', 9: 'Hard reset', 10: 'BFD session down' }],
  7: ['ROUTE-REFRESH message error', { 1: 'Invalid ROUTE-REFRESH message length' }],
  8: ['Send hold timer expired', {}],
};

export function describeNotification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): string {
  const entry = TEXT[code];
  if (!entry) return `Unknown error code ${code}/${subcode}`;
  const sub = entry[1][subcode];
  const base = sub ?? (subcode === 0 || Object.keys(entry[1]).length === 0 ? entry[0] : `${entry[0]} (subcode ${subcode})`);
  if (code === 6 && (subcode === 2 || subcode === 4) && data.length > 1) {
    // RFC 9003 shutdown communication: length octet + UTF-8.
    const n = data[0] ?? 0;
    const msg = Buffer.from(data.subarray(1, 1 + n)).toString('utf8');
    if (msg) return `${base} "${msg}"`;
  }
  return base;
}
