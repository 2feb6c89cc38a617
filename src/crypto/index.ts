// Envelope encryption primitives: master key -> wrapped data keys -> per-domain id and cipher
// keys; AES-256-GCM per chunk; AES-256-XTS for volume head sectors. Pure functions over lib and
// io; the persisted key ring lives in src/chunk/keyring.ts (it needs the MetaStore).
export type { DomainKeys } from './types.ts'
export {
  gcmNonceBytes,
  gcmTagBytes,
  openChunk,
  sealChunk,
  sealChunkParts,
  sealedOverheadBytes,
  unwrapDataKey,
  wrapDataKey,
  type WrappingKey,
} from './aead.ts'
export { deriveDomainKeys, hkdfInfoCipherKey, hkdfInfoIdKey, plainDomainKeys } from './domain-keys.ts'
export {
  decodeMasterKeyFile,
  encodeMasterKeyFile,
  loadMasterKey,
  loadPreviousMasterKey,
  masterKeyFileVersion,
  masterKeyFromBytes,
  masterKeyIdBytes,
  masterKeyIdHex,
  masterKeyPath,
  parseMasterKeyText,
  previousMasterKeyPath,
  readMasterKeyFile,
  type LoadedMasterKey,
  type LoadMasterKeyOptions,
  type LoadPreviousMasterKeyOptions,
  type MasterKey,
} from './master-key.ts'
export { xtsDecryptSector, xtsEncryptSector, xtsKeyBytes } from './xts.ts'
