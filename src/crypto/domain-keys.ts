// Per-domain keys derived from a domain's data key (docs/format/keys.md).
//
// Contract: deriveDomainKeys is deterministic in (dataKey), so a domain's chunk ids and cipher
// key never change while its data key lives, including across master key rotations (which only
// re-wrap the data key). The id key and the cipher key come from distinct HKDF info strings, so
// neither reveals the other. Never change an info string: every stored chunk id depends on it.
import { hkdfSync } from 'node:crypto'
import { assert, limits, plainDomain, type KeyDomainId } from '../lib/index.ts'
import type { DomainKeys } from './types.ts'

export const hkdfInfoIdKey = 'cairn v1 chunk id key'
export const hkdfInfoCipherKey = 'cairn v1 chunk cipher key'
const derivedKeyBytes = 32

/** The unencrypted default domain 0: plain SHA-256/BLAKE3 ids, no cipher. */
export const plainDomainKeys: DomainKeys = Object.freeze({ domain: plainDomain, idKey: undefined, cipherKey: undefined })

function hkdf(dataKey: Buffer, info: string): Buffer {
  // Empty salt: the data key is already uniformly random (RFC 5869 section 3.1).
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), info, derivedKeyBytes))
}

export function deriveDomainKeys(domain: KeyDomainId, dataKey: Buffer): DomainKeys {
  assert(domain !== plainDomain, 'the plain domain 0 has no data key')
  assert(dataKey.length === limits.dataKeyBytes, `data keys are ${limits.dataKeyBytes} bytes`)
  return Object.freeze({ domain, idKey: hkdf(dataKey, hkdfInfoIdKey), cipherKey: hkdf(dataKey, hkdfInfoCipherKey) })
}
