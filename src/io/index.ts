export type { DirEntry, FileHandle, Io, OpenFlags } from './io.ts'
export { nodeIo } from './node-io.ts'
export { readExactly, readSmallFile, writeAll, writevAll, writeFileAtomic } from './helpers.ts'
export { FaultyIo, type FaultKind, type FaultOperation, type FaultRule } from './faulty-io.ts'
