/** `get` table columns per kind (calico-compat.md §4.1), default and `-o wide`. */
import type { Kind, Resource } from '../resources/kinds.js';
import { assertNever } from '../../common/assert-never.js';
import { BFD_DEFAULTS } from '../resources/bfd-profile.js';

export interface TableContext { readonly globalAsNumber: number }

export function headersFor(kind: Kind, wide: boolean): string[] {
  switch (kind) {
    case 'IPPool': return wide ? ['NAME', 'CIDR', 'NAT', 'IPIPMODE', 'VXLANMODE', 'DISABLED', 'DISABLEBGPEXPORT', 'SELECTOR', 'ASSIGNMENTMODE'] : ['NAME', 'CIDR', 'SELECTOR'];
    case 'BGPPeer': return ['NAME', 'PEERIP', 'NODE', 'ASN'];
    case 'BGPConfiguration': return ['NAME', 'LOGSEVERITY', 'MESHENABLED', 'ASNUMBER'];
    case 'Node': return wide ? ['NAME', 'ASN', 'IPV4', 'IPV6'] : ['NAME'];
    case 'FelixConfiguration': case 'BGPFilter': return ['NAME'];
    case 'IPReservation': return wide ? ['NAME', 'CIDRS'] : ['NAME'];
    case 'BFDProfile': return ['NAME', 'RXINTERVAL', 'TXINTERVAL', 'MULTIPLIER', 'MULTIHOP', 'PASSIVE'];
    default: return assertNever(kind, 'kind');
  }
}

export function tableFor(kind: Kind, items: readonly Resource[], wide: boolean, ctx: TableContext): { headers: string[]; rows: string[][] } {
  const rows: string[][] = [];
  const headers = headersFor(kind, wide);
  for (const r of items) {
    switch (r.kind) {
      case 'IPPool': {
        const s = r.spec;
        rows.push(wide ? [r.metadata.name, s.cidr, String(s.natOutgoing ?? false), s.ipipMode, s.vxlanMode, String(s.disabled ?? false),
          String(s.disableBGPExport ?? false), s.nodeSelector, s.assignmentMode] : [r.metadata.name, s.cidr, s.nodeSelector]);
        break;
      }
      case 'BGPPeer': {
        const s = r.spec;
        // calicoctl's templates: PEERIP is spec.peerIP only (empty for peerSelector peers), ASN the
        // plain number, 0 when unset; -o wide shows the same columns.
        const node = s.node ?? s.nodeSelector ?? '(global)';
        rows.push([r.metadata.name, s.peerIP ?? '', node, String(s.asNumber ?? 0)]);
        break;
      }
      case 'BGPConfiguration': {
        const s = r.spec;
        rows.push([r.metadata.name, s.logSeverityScreen ?? '', s.nodeToNodeMeshEnabled === undefined ? '' : String(s.nodeToNodeMeshEnabled),
          s.asNumber === undefined ? '' : String(s.asNumber)]);
        break;
      }
      case 'Node': {
        const b = r.spec.bgp;
        const asn = b === undefined ? '' : b.asNumber !== undefined ? String(b.asNumber) : `(${ctx.globalAsNumber})`;
        rows.push(wide ? [r.metadata.name, asn, b?.ipv4Address ?? '', b?.ipv6Address ?? ''] : [r.metadata.name]);
        break;
      }
      case 'FelixConfiguration':
      case 'BGPFilter':
        rows.push([r.metadata.name]);
        break;
      case 'IPReservation': {
        // calicoctl: {{joinAndTruncate .Spec.ReservedCIDRs "," 80}}
        const cidrs = (r.spec.reservedCIDRs ?? []).join(',');
        rows.push(wide ? [r.metadata.name, cidrs.length > 80 ? `${cidrs.slice(0, 77)}...` : cidrs] : [r.metadata.name]);
        break;
      }
      case 'BFDProfile': {
        // Effective values, defaults filled in: what the sessions use.
        const s = r.spec;
        rows.push([r.metadata.name, `${s.receiveInterval ?? BFD_DEFAULTS.receiveInterval}ms`, `${s.transmitInterval ?? BFD_DEFAULTS.transmitInterval}ms`,
          String(s.detectMultiplier ?? BFD_DEFAULTS.detectMultiplier), s.multihop === undefined ? 'auto' : String(s.multihop), String(s.passive ?? false)]);
        break;
      }
      default: assertNever(r, 'resource');
    }
  }
  return { headers, rows };
}
