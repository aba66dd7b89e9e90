/** The path-attribute codec table: one row per attribute this speaker implements, by type code. */
import { aggregatorCodec } from './aggregator.js';
import { asPathCodec } from './as-path.js';
import { as4AggregatorCodec, as4PathCodec } from './as4-path.js';
import { atomicAggregateCodec } from './atomic-aggregate.js';
import type { AttributeCodec } from './attribute-codec.js';
import { clusterListCodec } from './cluster-list.js';
import { communitiesCodec } from './communities.js';
import { extendedCommunitiesCodec } from './extended-communities.js';
import { largeCommunityCodec } from './large-community.js';
import { localPrefCodec } from './local-pref.js';
import { medCodec } from './med.js';
import { mpReachCodec } from './mp-reach.js';
import { mpUnreachCodec } from './mp-unreach.js';
import { nextHopCodec } from './next-hop.js';
import { originCodec } from './origin.js';
import { originatorIdCodec } from './originator-id.js';
import { onlyToCustomerCodec } from './only-to-customer.js';

/** In type-code order, which is also the order we encode in (RFC 4271 §5: SHOULD ascend). */
export const ATTRIBUTE_CODECS: readonly AttributeCodec[] = [
  originCodec, asPathCodec, nextHopCodec, medCodec, localPrefCodec, atomicAggregateCodec,
  aggregatorCodec, communitiesCodec, originatorIdCodec, clusterListCodec, mpReachCodec,
  mpUnreachCodec, extendedCommunitiesCodec, as4PathCodec, as4AggregatorCodec, largeCommunityCodec,
  onlyToCustomerCodec,
];

const BY_CODE: Array<AttributeCodec | undefined> = new Array<AttributeCodec | undefined>(256).fill(undefined);
for (const row of ATTRIBUTE_CODECS) BY_CODE[row.typeCode] = row;

export function attributeCodec(typeCode: number): AttributeCodec | undefined {
  return BY_CODE[typeCode];
}

/** IANA name of an attribute type, or "ATTR_<n>" for one we do not implement. */
export function attributeName(typeCode: number): string {
  return BY_CODE[typeCode]?.name ?? `ATTR_${typeCode}`;
}
