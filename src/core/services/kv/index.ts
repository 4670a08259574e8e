export { KvService, KV_ABILITIES, MAX_BATCH, MAX_PAGE, MAX_VALUE_BYTES, VERSION_FACT, VERSION_HEADER, versionId } from './service.js';
export type { KvOperation, KvServiceOptions, VersionDescription } from './service.js';
export { SignedKvUrls, MAX_TICKET_TTL_SECONDS, parseRange, type SignedUrl, type SignedUrlRequest } from './signed-urls.js';
export { Quotas, type SpaceUsage } from './quota.js';
export { KvReader, compareEpochPosition, type CurrentEntry, type KeyVersion, type EpochPosition } from './store.js';
export { MAX_KEY_LENGTH, checkKey } from './keys.js';
export { etagOf, type HeaderBag } from './headers.js';
export { readMultipart, multipartBoundary, type MultipartPart } from './multipart.js';
export type { KvInvocation, KvRequest, KvResponse } from './types.js';
