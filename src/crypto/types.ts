// The contract between the chunk store and key management (implemented in this folder).
import type { KeyDomainId } from '../lib/index.ts'

/** Keys of one key domain, unwrapped in memory only. */
export interface DomainKeys {
  readonly domain: KeyDomainId
  /** 32 bytes: key of the keyed chunk-id hash (absent for the plain domain 0). */
  readonly idKey: Buffer | undefined
  /** 32 bytes: AES-256-GCM key for chunk payloads (absent for the plain domain 0). */
  readonly cipherKey: Buffer | undefined
}
