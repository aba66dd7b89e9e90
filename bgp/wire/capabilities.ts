/**
 * Capabilities (RFC 5492 §4): code (1), length (1), value. Implemented: multiprotocol (RFC 4760
 * §8), route refresh (RFC 2918), extended message (RFC 8654), graceful restart (RFC 4724 §3,
 * N bit RFC 8538), 4-octet AS (RFC 6793), ADD-PATH (RFC 7911 §4), enhanced route refresh
 * (RFC 7313), long-lived graceful restart (RFC 9494 §3). Anything else is kept as 'unknown'
 * with its value.
 *
 *   GR value: |R|N|0|0| restart time (12 bits) | then per family: AFI (2) SAFI (1) flags (F bit)
 *   LLGR value, per family: AFI (2) SAFI (1) flags (1, F bit 0x80) Long-lived Stale Time (3)
 */
import { assertNever } from '../../common/assert-never.js';
import { BgpWireError, ErrorCode } from './errors.js';
import type { Reader } from './reader.js';
import { CapabilityCode, type AddPathMode, type Capability } from './types.js';
import type { Writer } from './writer.js';

/** OPEN Message Error, subcode 0 (unspecific): malformed capability or parameter. */
function openMalformed(message: string): BgpWireError {
  return new BgpWireError(ErrorCode.OPEN_MESSAGE, 0, message);
}

/** Decode the capabilities in one capabilities optional parameter. */
export function decodeCapabilities(r: Reader, out: Capability[]): void {
  while (r.remaining > 0) {
    if (r.remaining < 2) throw openMalformed('capability header truncated');
    const code = r.u8();
    const len = r.u8();
    if (r.remaining < len) throw openMalformed(`capability ${code} length ${len} overruns the parameter`);
    const v = r.sub(len);
    out.push(decodeCapability(code, v));
  }
}

function decodeCapability(code: number, v: Reader): Capability {
  const len = v.remaining;
  const bad = (want: string) => openMalformed(`capability ${code} has length ${len}, expected ${want}`);
  switch (code) {
    case CapabilityCode.MULTIPROTOCOL: {
      if (len !== 4) throw bad('4');
      const afi = v.u16(); v.u8();
      return { type: 'multiprotocol', afi, safi: v.u8() };
    }
    case CapabilityCode.ROUTE_REFRESH:
      if (len !== 0) throw bad('0');
      return { type: 'route-refresh' };
    case CapabilityCode.ENHANCED_ROUTE_REFRESH:
      if (len !== 0) throw bad('0');
      return { type: 'enhanced-route-refresh' };
    case CapabilityCode.EXTENDED_MESSAGE:
      if (len !== 0) throw bad('0');
      return { type: 'extended-message' };
    case CapabilityCode.FOUR_OCTET_AS:
      if (len !== 4) throw bad('4');
      return { type: 'four-octet-as', asn: v.u32() };
    case CapabilityCode.GRACEFUL_RESTART: {
      if (len < 2 || (len - 2) % 4 !== 0) throw bad('2 + 4n');
      const word = v.u16();
      const families: Array<{ afi: number; safi: number; forwardingPreserved: boolean }> = [];
      while (v.remaining > 0) families.push({ afi: v.u16(), safi: v.u8(), forwardingPreserved: (v.u8() & 0x80) !== 0 });
      return {
        type: 'graceful-restart', restarting: (word & 0x8000) !== 0, notification: (word & 0x4000) !== 0,
        restartTime: word & 0x0fff, families,
      };
    }
    case CapabilityCode.LONG_LIVED_GRACEFUL_RESTART: {
      if (len % 7 !== 0) throw bad('7n');
      const families: Array<{ afi: number; safi: number; forwardingPreserved: boolean; staleTime: number }> = [];
      while (v.remaining > 0) {
        const afi = v.u16(), safi = v.u8(), flags = v.u8();
        families.push({ afi, safi, forwardingPreserved: (flags & 0x80) !== 0, staleTime: (v.u8() << 16) | v.u16() });
      }
      return { type: 'long-lived-graceful-restart', families };
    }
    case CapabilityCode.ADD_PATH: {
      if (len === 0 || len % 4 !== 0) throw bad('4n');
      const families: Array<{ afi: number; safi: number; mode: AddPathMode }> = [];
      while (v.remaining > 0) {
        const afi = v.u16(), safi = v.u8(), mode = v.u8();
        if (mode < 1 || mode > 3) throw openMalformed(`ADD-PATH send/receive value ${mode} for ${afi}/${safi} is invalid`);
        families.push({ afi, safi, mode: mode as AddPathMode });
      }
      return { type: 'add-path', families };
    }
    default:
      return { type: 'unknown', code, value: v.copy(len) };
  }
}

/** Write one capability (code, length, value). */
export function encodeCapability(w: Writer, c: Capability): void {
  const at = w.length;
  w.u8(0).u8(0);
  switch (c.type) {
    case 'multiprotocol': w.u16(c.afi).u8(0).u8(c.safi); break;
    case 'route-refresh': break;
    case 'enhanced-route-refresh': break;
    case 'extended-message': break;
    case 'four-octet-as': w.u32(c.asn); break;
    case 'graceful-restart':
      w.u16((c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | (c.restartTime & 0x0fff));
      for (const f of c.families) w.u16(f.afi).u8(f.safi).u8(f.forwardingPreserved ? 0x80 : 0);
      break;
    case 'add-path':
      for (const f of c.families) w.u16(f.afi).u8(f.safi).u8(f.mode);
      break;
    case 'long-lived-graceful-restart':
      for (const f of c.families) {
        const t = Math.min(0xffffff, Math.max(0, f.staleTime));
        w.u16(f.afi).u8(f.safi).u8(f.forwardingPreserved ? 0x80 : 0).u8(t >>> 16).u16(t & 0xffff);
      }
      break;
    case 'unknown': w.bytes(c.value); break;
    default: assertNever(c, 'capability');
  }
  w.patchU8(at, capabilityCode(c));
  w.patchU8(at + 1, w.length - at - 2);
}

export function capabilityCode(c: Capability): number {
  switch (c.type) {
    case 'multiprotocol': return CapabilityCode.MULTIPROTOCOL;
    case 'route-refresh': return CapabilityCode.ROUTE_REFRESH;
    case 'enhanced-route-refresh': return CapabilityCode.ENHANCED_ROUTE_REFRESH;
    case 'extended-message': return CapabilityCode.EXTENDED_MESSAGE;
    case 'four-octet-as': return CapabilityCode.FOUR_OCTET_AS;
    case 'graceful-restart': return CapabilityCode.GRACEFUL_RESTART;
    case 'add-path': return CapabilityCode.ADD_PATH;
    case 'long-lived-graceful-restart': return CapabilityCode.LONG_LIVED_GRACEFUL_RESTART;
    case 'unknown': return c.code;
    default: return assertNever(c, 'capability');
  }
}
