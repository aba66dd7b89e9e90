/**
 * Locally originated prefixes (BgpSpeaker.originate/withdraw): kept here as given, so that a
 * new Loc-RIB (the speaker's AS or router id changed) gets them again, and for the route views
 * (a route's age is counted from its origination).
 */
import { formatPrefix, parseAddress, parsePrefix, type Prefix } from '../../common/prefix.js';
import type { PathAttributes } from '../wire/types.js';
import type { LocRib } from '../rib/loc-rib.js';
import type { OriginateAttrs } from './peer-config.js';

interface Origination { readonly prefix: Prefix; readonly attrs: PathAttributes; readonly nextHop: Uint8Array | undefined; readonly since: number; readonly iface: string | undefined }

export class Originated {
  private readonly byPrefix = new Map<string, Origination>();

  /** Originate `prefixText` into `rib` (replacing an earlier origination of it); `now`: wall ms. */
  originate(rib: LocRib, prefixText: string, attrs: OriginateAttrs, now: number): void {
    const prefix = parsePrefix(prefixText);
    const nh = attrs.nextHop !== undefined ? parseAddress(attrs.nextHop) : undefined;
    if (nh && nh.family !== prefix.family) throw new Error(`originate ${prefixText}: next hop ${attrs.nextHop} is not an IPv${prefix.family} address`);
    const a: PathAttributes = {
      origin: attrs.origin ?? 0, asPath: [],
      ...(prefix.family === 4 && nh ? { nextHop: nh.bytes } : {}),
      ...(attrs.med !== undefined ? { med: attrs.med } : {}),
      ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
      ...(attrs.communities?.length ? { communities: [...attrs.communities] } : {}),
      ...(attrs.largeCommunities?.length ? { largeCommunities: [...attrs.largeCommunities] } : {}),
    };
    this.byPrefix.set(formatPrefix(prefix), { prefix, attrs: a, nextHop: nh?.bytes, since: now, iface: attrs.interface });
    rib.originate(prefix, a, nh?.bytes, attrs.interface);
  }

  withdraw(rib: LocRib, prefixText: string): void {
    const prefix = parsePrefix(prefixText);
    if (this.byPrefix.delete(formatPrefix(prefix))) rib.withdrawOriginated(prefix);
  }

  /** Wall ms the prefix (formatted) was originated, if it is. */
  since(key: string): number | undefined { return this.byPrefix.get(key)?.since; }

  /** Originate everything again into a new Loc-RIB. */
  replay(rib: LocRib): void {
    for (const o of this.byPrefix.values()) rib.originate(o.prefix, o.attrs, o.nextHop, o.iface);
  }
}
