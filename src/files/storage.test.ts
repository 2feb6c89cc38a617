// File data in the chunk store: a file written in pieces (with early flushes under a small
// buffer limit) gets exactly the chunks one pass of the chunker gives, so identical content
// dedups (stored once, counted once per file system); buffered memory stays bounded; and after
// deleting every file and file system, garbage collection leaves no chunk and no record.
import t from 'tap'
import { ContentDefinedChunker } from '../chunk/index.ts'
import { chunkIdHex, SeededRandom } from '../lib/index.ts'
import { decodeKey, key, prefixRange, scanAll } from '../meta/index.ts'
import { chunkRefRange, fileSystemRange } from './keys.ts'
import { filesTestSetup, root, smallChunks, type FilesTestSetup } from './testing.ts'

const file = { type: 'regular', mode: 0o644, how: { mode: 'guarded' } } as const

async function countKeys(setup: FilesTestSetup, range: { gt: Buffer; lt: Buffer }): Promise<number> {
  return setup.meta.read(async (tx) => {
    let count = 0
    for await (const _ of scanAll(tx, range)) count += 1
    return count
  })
}

async function chunkRefHexes(setup: FilesTestSetup, fsId: string): Promise<Set<string>> {
  return setup.meta.read(async (tx) => {
    const ids = new Set<string>()
    for await (const entry of scanAll(tx, chunkRefRange(fsId))) ids.add(Buffer.from(decodeKey(entry.key).at(-1) as Uint8Array).toString('hex'))
    return ids
  })
}

t.test('pieces, early flushes and one-pass chunking agree; identical files dedup; memory stays bounded', async (t) => {
  const flushAt = 64 * 1024
  const setup = await filesTestSetup({ files: { tuning: { dirtyBytesPerFileFlushAt: flushAt, dirtyBytesMax: 8 * flushAt } } })
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const content = new SeededRandom(7).bytes(2 * 1024 * 1024)
  const one = await files.create(root, top, 'one', file)
  let peak = 0
  for (let offset = 0; offset < content.length; offset += 32 * 1024) {
    await files.write(one.handle, offset, content.subarray(offset, offset + 32 * 1024), 'unstable')
    peak = Math.max(peak, files.bufferedBytes)
  }
  t.ok(peak <= 8 * flushAt + 32 * 1024, `buffered bytes stayed bounded (peak ${peak})`)
  await files.commit(one.handle)
  t.equal(files.bufferedBytes, 0)

  const chunker = new ContentDefinedChunker(smallChunks)
  const expected = new Set<string>()
  for (const chunk of [...chunker.push(content), ...chunker.finish()]) expected.add(chunkIdHex(await setup.chunkStore.idOf(chunk)))
  const info = await files.describeFileSystem('default')
  const stored = await chunkRefHexes(setup, info.id)
  t.same([...stored].sort(), [...expected].sort(), 'the same chunks as one pass over the bytes')

  // A copy written in other pieces, pairs swapped (as a client's write-back reorders), dedups.
  const two = await files.create(root, top, 'two', file)
  const piece = 48 * 1024
  for (let offset = 0; offset < content.length; offset += 2 * piece) {
    await files.write(two.handle, offset + piece, content.subarray(offset + piece, offset + 2 * piece), 'unstable')
    await files.write(two.handle, offset, content.subarray(offset, offset + piece), 'unstable')
  }
  await files.closeFile(two.handle)
  t.ok((await files.read(two.handle, 0, content.length)).data.equals(content))
  const after = (await files.describeFileSystem('default')).usage
  t.equal(after.standard.logicalBytes, 2 * content.length)
  t.equal(after.standard.allocatedBytes, 2 * content.length)
  t.ok(after.storedBytes <= info.usage.storedBytes * 1.1, `a second copy adds (almost) nothing stored: ${info.usage.storedBytes} -> ${after.storedBytes}`)
})

t.test('files shorter than the chunker minimum: one chunk each, as one pass of the chunker gives, also many at once', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const random = new SeededRandom(11)
  // Sizes below smallChunks.minBytes, and one exactly at it (the chunker's path).
  const contents = Array.from({ length: 24 }, (_, index) => random.bytes(index === 0 ? smallChunks.minBytes : 1 + random.int(smallChunks.minBytes - 1)))
  await Promise.all(contents.map(async (content, index) => {
    const created = await files.create(root, top, `small-${index}`, file)
    await files.openFile(created.handle)
    const half = Math.floor(content.length / 2)
    await files.write(created.handle, half, content.subarray(half), 'unstable')
    await files.write(created.handle, 0, content.subarray(0, half), 'file-sync') // flushes both pieces
    await files.closeFile(created.handle)
    t.ok((await files.read(created.handle, 0, content.length + 10)).data.equals(content), `small-${index} reads back`)
  }))
  const expected = new Set<string>()
  for (const content of contents) {
    const chunker = new ContentDefinedChunker(smallChunks)
    const chunks = [...chunker.push(content), ...chunker.finish()]
    t.equal(chunks.length, 1, 'one pass of the chunker gives one chunk')
    expected.add(chunkIdHex(await setup.chunkStore.idOf(chunks[0]!)))
  }
  const stored = await chunkRefHexes(setup, (await files.describeFileSystem('default')).id)
  t.same([...stored].sort(), [...expected].sort(), 'the same chunks as the chunker')
})

t.test('after deleting everything, GC leaves no chunk and no file system record', async (t) => {
  const setup = await filesTestSetup({ gcGraceMs: 0 })
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const random = new SeededRandom(11)
  const other = await files.createFileSystem('other')
  const otherRoot = (await files.findFileSystem('other'))!.rootHandle
  const top = await setup.root()
  for (const [rootHandle, prefix] of [[top, 'd'], [otherRoot, 'o']] as const) {
    const sub = await files.create(root, rootHandle, `${prefix}-dir`, { type: 'directory', mode: 0o755 })
    for (let index = 0; index < 20; index += 1) {
      const { handle } = await files.create(root, index % 2 === 0 ? rootHandle : sub.handle, `${prefix}${index}`, file)
      await files.write(handle, random.int(100_000), random.bytes(random.int(200_000) + 1), 'unstable')
      if (index % 3 === 0) await files.setAttributes(root, handle, { sizeBytes: random.int(150_000) })
      await files.commit(handle)
    }
  }
  const open = await files.create(root, top, 'open-then-removed', file)
  await files.openFile(open.handle)
  await files.write(open.handle, 0, random.bytes(50_000), 'file-sync')
  t.ok((await countKeys(setup, prefixRange('chunk', 'loc'))) > 0)

  // Delete everything: files and directories of `default`, the whole of `other`.
  const removeAll = async (directory: typeof top): Promise<void> => {
    const page = await files.readDirectory(root, directory, { cookie: 0n, maxEntries: 1000 })
    for (const entry of page.entries) {
      if (entry.attributes.type === 'directory') await removeAll(entry.handle)
      await files.remove(root, directory, entry.name)
    }
  }
  await removeAll(top)
  await files.closeFile(open.handle)
  await files.deleteFileSystem('other')
  await files.idle()
  t.equal(await countKeys(setup, fileSystemRange(other.id)), 0, 'nothing of the deleted file system is left')
  t.equal(await setup.meta.read((tx) => tx.get(key('fs', 'system', other.id))), undefined)
  const usage = (await files.describeFileSystem('default')).usage
  t.same(usage, { files: 0, directories: 1, symlinks: 0, standard: { logicalBytes: 0, allocatedBytes: 0 }, infrequentAccess: { logicalBytes: 0, allocatedBytes: 0 }, storedBytes: 0 })
  t.equal(await countKeys(setup, chunkRefRange(usageFsId(await files.describeFileSystem('default')))), 0)
  await setup.chunkStore.collectGarbage()
  t.equal(await countKeys(setup, prefixRange('chunk', 'loc')), 0, 'every chunk was collected')
  t.equal(await countKeys(setup, prefixRange('chunk', 'ref')), 0, 'no chunk reference is left')
  t.equal((await files.listFileSystems()).length, 1)
})

function usageFsId(description: { id: string }): string {
  return description.id
}
