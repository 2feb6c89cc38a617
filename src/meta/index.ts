export type { Entry, Key, KeyRange, MetaStore, MetaStoreCapabilities, ReadTx, TransactOptions, Value, WriteTx } from './meta-store.ts'
export { decodeKey, key, prefixEnd, prefixRange, type KeyPart } from './keys.ts'
export { MemoryMetaStore } from './memory-store.ts'
export { LevelMetaStore } from './level-store.ts'
