/** The public surface of bgp/wire, for callers that prefer one import. */
export * from './types.js';
export * from './errors.js';
export { Reader } from './reader.js';
export { Writer } from './writer.js';
export { parseHeader, maxMessageLength } from './header.js';
export { MessageFramer } from './framer.js';
export { decodeMessage, encodeMessage, KEEPALIVE, type DecodedMessage } from './message.js';
export { decodeOpen, encodeOpen, openPeerAs, type DecodedOpenMessage } from './open.js';
export { decodeUpdate, encodeUpdate, type DecodedUpdate, type DecodedUpdateMessage, type DecodeOptions } from './update.js';
export {
  decodeNotification, encodeNotification, notificationFor, describeNotification,
  encodeShutdownCommunication, decodeShutdownCommunication, MAX_NOTIFICATION_DATA,
} from './notification.js';
export { decodeRouteRefresh, encodeRouteRefresh } from './route-refresh.js';
export {
  encodeUpdates, encodeWithdraws, encodeEndOfRib, endOfRibFamily, prepareAttributes, encodePreparedUpdates,
  type EncodeUpdatesOptions, type PreparedAttributes,
} from './update-encoder.js';
export { formatOrigin } from './attributes/origin.js';
export { formatAsPath, asPathLength } from './attributes/as-path.js';
export { formatCommunity } from './attributes/communities.js';
export { formatExtendedCommunity } from './attributes/extended-communities.js';
export { formatLargeCommunity } from './attributes/large-community.js';
export { attributeName } from './attributes/table.js';
export type { AttributeLayoutEntry } from './attributes/attribute-list.js';
