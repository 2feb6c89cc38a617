// Pieces several handler groups share: version and checksum response headers, checksum and
// owner XML elements, and the URL encoding of encoding-type=url listings.
import type { ObjectChecksum, Principal, UserId } from '../../objects/index.ts'
import { uriEncodeBytes } from '../auth/index.ts'
import type { EncodingType } from '../endpoint.ts'
import type { XmlChild } from '../xml.ts'

export function versionIdHeader(versionId: string | undefined): Record<string, string> {
  return versionId === undefined ? {} : { 'x-amz-version-id': versionId }
}

/** x-amz-checksum-<algorithm> and x-amz-checksum-type for a stored checksum. */
export function checksumHeaders(checksum: ObjectChecksum | undefined): Record<string, string> {
  if (checksum === undefined) return {}
  return { [`x-amz-checksum-${checksum.algorithm.toLowerCase()}`]: checksum.value, 'x-amz-checksum-type': checksum.type }
}

/** <ChecksumCRC32>value</ChecksumCRC32> (and <ChecksumType> when asked). */
export function checksumXml(checksum: ObjectChecksum | undefined, withType = true): XmlChild[] {
  if (checksum === undefined) return []
  const elements: XmlChild[] = [[`Checksum${checksum.algorithm}`, checksum.value]]
  if (withType) elements.push(['ChecksumType', checksum.type])
  return elements
}

/** <Owner> (or another element name) for a user id; the caller's display name when it is the caller. */
export function ownerXml(owner: UserId, principal: Principal, name = 'Owner'): XmlChild {
  return [name, [['ID', owner], ['DisplayName', owner === principal.userId ? principal.displayName : owner]]]
}

/**
 * encoding-type=url: every byte outside A-Z a-z 0-9 - . _ ~ and '/' as %XX, so '+' is %2B and a
 * space %20 (clients decode with unquote_plus or decodeURIComponent; both read these back).
 */
export function encodeListValue(value: string | undefined, encodingType: EncodingType): string | undefined {
  if (value === undefined || encodingType !== 'url') return value
  return uriEncodeBytes(Buffer.from(value, 'utf8'), true)
}
