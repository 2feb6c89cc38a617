// The AES-256-XTS key of an encrypted volume's head, derived from its key domain
// (docs/format/volumes.md section 5, docs/format/keys.md for the domain keys).
//
// head key (64 bytes) = HKDF-SHA256(ikm = the domain's cipher key, salt = empty,
//                                   info = "cairn v1 volume head xts key", length = 64)
// The cipher key is itself HKDF output of the domain's random data key, so the head key is
// fixed for the domain's life (master key rotations re-wrap the data key, never change it) and
// is independent of the chunk id and chunk cipher keys (distinct info strings).
// Never: change the info string (every encrypted head depends on it); log the key.
import { hkdfSync } from 'node:crypto'
import { xtsKeyBytes, type DomainKeys } from '../crypto/index.ts'
import { assert, StoreError } from '../lib/index.ts'

export const hkdfInfoHeadKey = 'cairn v1 volume head xts key'

export function headKeyOf(keys: DomainKeys): Buffer {
  if (keys.cipherKey === undefined) throw new StoreError('KEY_UNAVAILABLE', `key domain ${keys.domain} has no cipher key: it is not an encrypted domain`)
  const key = Buffer.from(hkdfSync('sha256', keys.cipherKey, Buffer.alloc(0), hkdfInfoHeadKey, xtsKeyBytes))
  // XTS refuses equal halves; HKDF output has them equal with probability 2^-256.
  assert(!key.subarray(0, 32).equals(key.subarray(32)), 'the halves of a derived XTS key differ')
  return key
}
