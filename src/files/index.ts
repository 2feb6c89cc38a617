// The files layer: POSIX file systems on the chunk store (contract for front-ends in api.ts,
// formats in docs/format/files.md).
export * from './api.ts'
export { FileEngine, type FilesOptions, type FilesRecovery } from './service.ts'
export { defaultExportPolicy, defaultFileSystemName, defaultLifecycle } from './file-systems.ts'
export type * from './types.ts'
export type { FsckReport } from './fsck.ts'
