// Metadata keys of the files layer: the ('fs', ...) key space of docs/format/files.md section 1.
// Only src/files writes these keys. Every per-file-system key starts with ('fs', 'f', fsId), so
// one range holds a whole file system.
import type { ChunkId } from '../lib/index.ts'
import { key, prefixRange } from '../meta/index.ts'

export const bootKey = key('fs', 'boot')
export const initKey = key('fs', 'init')
export const systemKey = (fsId: string): Buffer => key('fs', 'system', fsId)
export const systemRange = prefixRange('fs', 'system')
export const nameKey = (name: string): Buffer => key('fs', 'name', name)

export const fileSystemRange = (fsId: string) => prefixRange('fs', 'f', fsId)
export const allocatorKey = (fsId: string): Buffer => key('fs', 'f', fsId, 'n')
export const usageKey = (fsId: string): Buffer => key('fs', 'f', fsId, 'u')

export const inodeKey = (fsId: string, inode: number): Buffer => key('fs', 'f', fsId, 'i', inode)
export const inodeRange = (fsId: string) => prefixRange('fs', 'f', fsId, 'i')

export const entryKey = (fsId: string, directory: number, name: string): Buffer => key('fs', 'f', fsId, 'd', directory, name)
export const entryRange = (fsId: string, directory: number) => prefixRange('fs', 'f', fsId, 'd', directory)
export const cookieKey = (fsId: string, directory: number, cookie: number): Buffer => key('fs', 'f', fsId, 'c', directory, cookie)
export const cookieRange = (fsId: string, directory: number) => prefixRange('fs', 'f', fsId, 'c', directory)

export const extentKey = (fsId: string, inode: number, offset: number): Buffer => key('fs', 'f', fsId, 'x', inode, offset)
/** The tuple ('fs','f',fsId,'x',inode): every extent key of the inode extends it. */
export const extentPrefix = (fsId: string, inode: number): Buffer => key('fs', 'f', fsId, 'x', inode)
export const extentRange = (fsId: string, inode: number) => prefixRange('fs', 'f', fsId, 'x', inode)

export const chunkRefKey = (fsId: string, id: ChunkId): Buffer => key('fs', 'f', fsId, 'r', id)
export const chunkRefRange = (fsId: string) => prefixRange('fs', 'f', fsId, 'r')

export const orphanKey = (fsId: string, inode: number): Buffer => key('fs', 'f', fsId, 'o', inode)
export const orphanRange = (fsId: string) => prefixRange('fs', 'f', fsId, 'o')
export const trimKey = (fsId: string, inode: number): Buffer => key('fs', 'f', fsId, 't', inode)
export const trimRange = (fsId: string) => prefixRange('fs', 'f', fsId, 't')
