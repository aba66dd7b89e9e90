/** BGPPeer (calico-compat.md §1.2). */
import { z } from 'zod';
import { asNumber, duration, ipAddress, peerIp, secretKeyRef, selector } from './fields.js';

export const bgpPeerSpec = z.strictObject({
  node: z.string().min(1).optional(),
  nodeSelector: selector.optional(),
  peerIP: peerIp.optional(),
  asNumber: asNumber.optional(),
  localASNumber: asNumber.optional(),
  peerSelector: selector.optional(),
  keepOriginalNextHop: z.boolean().optional(),
  nextHopMode: z.enum(['Auto', 'Self', 'Keep']).optional(),
  password: secretKeyRef.optional(),
  sourceAddress: z.enum(['UseNodeIP', 'None']).optional(),
  maxRestartTime: duration.optional(),
  keepaliveTime: duration.optional(),
  numAllowedLocalASNumbers: z.int().min(0).optional(),
  ttlSecurity: z.int().min(0).max(255).optional(),
  reachableBy: ipAddress.optional(),
  filters: z.array(z.string().min(1)).optional(),
  localWorkloadSelector: selector.optional(),
  reversePeering: z.enum(['Auto', 'Manual']).optional(),
}).superRefine((s, ctx) => {
  const issue = (path: string, message: string): void => { ctx.addIssue({ code: 'custom', path: [path], message }); };
  if (s.node !== undefined && s.nodeSelector !== undefined) issue('nodeSelector', 'node and nodeSelector cannot both be set');
  if (s.peerSelector !== undefined && s.asNumber !== undefined) issue('asNumber', 'must be empty when peerSelector is set (the AS comes from the selected nodes)');
  if (s.peerSelector !== undefined && s.peerIP !== undefined) issue('peerIP', 'peerIP and peerSelector cannot both be set');
  if (s.localWorkloadSelector !== undefined) {
    if (s.asNumber === undefined) issue('asNumber', 'required with localWorkloadSelector');
    if (s.peerIP !== undefined || s.peerSelector !== undefined) issue('localWorkloadSelector', 'cannot be combined with peerIP or peerSelector');
  } else if (s.peerIP === undefined && s.peerSelector === undefined) {
    issue('peerIP', 'one of peerIP, peerSelector or localWorkloadSelector is required');
  } else if (s.peerIP !== undefined && s.asNumber === undefined) {
    issue('asNumber', 'required with peerIP');
  }
  if (s.reachableBy !== undefined && s.peerIP === undefined) issue('reachableBy', 'requires peerIP');
  if (s.keepOriginalNextHop !== undefined && s.nextHopMode !== undefined) issue('nextHopMode', 'cannot be combined with the deprecated keepOriginalNextHop');
});

export type BGPPeerSpec = z.output<typeof bgpPeerSpec>;
