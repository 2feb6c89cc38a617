// Storage classes: with a "day" of one second, files not read or written for N days move to
// Infrequent Access (their chunks to the cold tier), recently used ones stay; usage reports
// logical bytes per class; the first access moves a file back when the policy asks; the
// background pass runs on its own.
import t from 'tap'
import { ManualClock, type ChunkId } from '../lib/index.ts'
import type { FileHandle } from './api.ts'
import { decodeHandle } from './handles.ts'
import { chunkIdsOf } from './extents.ts'
import { filesTestSetup, root, type FilesTestSetup } from './testing.ts'

const file = { type: 'regular', mode: 0o644, how: { mode: 'guarded' } } as const
const dayMs = 1000

async function tiersOf(setup: FilesTestSetup, handle: FileHandle): Promise<string[]> {
  const { fsId, inode } = decodeHandle(handle)
  const ids: ChunkId[] = []
  for await (const page of chunkIdsOf((fn) => setup.meta.read(fn), fsId, inode)) ids.push(...page.map((extent) => extent.chunkId))
  const tiers = new Set<string>()
  for (const id of ids) tiers.add((await setup.chunkStore.locate(id))?.tier ?? 'missing')
  return [...tiers].sort()
}

t.test('lifecycle moves idle files to Infrequent Access and back on access', async (t) => {
  const clock = new ManualClock()
  const setup = await filesTestSetup({ clock, files: { dayMs } })
  t.teardown(() => setup.cleanup())
  const files = setup.files
  await files.createFileSystem('archive', { lifecycle: { transitionToIaAfterDays: 2, transitionToStandardOnAccess: true } })
  await files.createFileSystem('sticky', { lifecycle: { transitionToIaAfterDays: 1 } })
  const archive = (await files.findFileSystem('archive'))!.rootHandle
  const sticky = (await files.findFileSystem('sticky'))!.rootHandle
  const idle = await files.create(root, archive, 'idle', file)
  await files.write(idle.handle, 0, Buffer.alloc(100_000, 1), 'file-sync')
  const busy = await files.create(root, archive, 'busy', file)
  await files.write(busy.handle, 0, Buffer.alloc(50_000, 2), 'file-sync')
  const kept = await files.create(root, sticky, 'kept', file)
  await files.write(kept.handle, 0, Buffer.alloc(30_000, 3), 'file-sync')
  t.same(await tiersOf(setup, idle.handle), ['hot'])

  clock.advance(1.5 * dayMs)
  await files.read(busy.handle, 0, 10) // an access that resets its clock
  clock.advance(1 * dayMs)
  t.same(await files.runLifecycle('default'), { scannedFiles: 0, toInfrequentAccess: 0, toStandard: 0, movedChunks: 0 }, 'no policy, nothing moves')
  const report = await files.runLifecycle('archive')
  t.equal(report.toInfrequentAccess, 1, 'only the idle file moved')
  t.ok(report.movedChunks > 0)
  t.same(await tiersOf(setup, idle.handle), ['cold'], 'its chunks are in the cold tier')
  t.same(await tiersOf(setup, busy.handle), ['hot'])
  const usage = (await files.describeFileSystem('archive')).usage
  t.same([usage.standard.logicalBytes, usage.infrequentAccess.logicalBytes], [50_000, 100_000])
  t.ok((await files.read(idle.handle, 0, 100_000)).data.equals(Buffer.alloc(100_000, 1)), 'cold files read the same')
  await files.idle()
  t.same(await tiersOf(setup, idle.handle), ['hot'], 'the first access moved it back')
  t.same((await files.describeFileSystem('archive')).usage.infrequentAccess.logicalBytes, 0)

  t.equal((await files.runLifecycle('sticky')).toInfrequentAccess, 1)
  await files.read(kept.handle, 0, 10)
  await files.idle()
  t.same(await tiersOf(setup, kept.handle), ['cold'], 'without transitionToStandardOnAccess it stays')
  t.equal((await files.describeFileSystem('sticky')).usage.infrequentAccess.logicalBytes, 30_000)
  // New writes to an Infrequent Access file go to its tier.
  await files.write(kept.handle, 30_000, Buffer.alloc(20_000, 4), 'file-sync')
  t.same(await tiersOf(setup, kept.handle), ['cold'])

  await files.updateFileSystem('sticky', { lifecycle: { transitionToStandardOnAccess: true } })
  t.same((await files.describeFileSystem('sticky')).lifecycle, { transitionToIaAfterDays: 1, transitionToStandardOnAccess: true })
  await t.rejects(files.updateFileSystem('sticky', { lifecycle: { transitionToIaAfterDays: 0 } }), { code: 'INVALID_ARGUMENT' })
})

t.test('the background pass runs every interval of the configured day', async (t) => {
  const clock = new ManualClock()
  const setup = await filesTestSetup({ clock, files: { dayMs, lifecycleIntervalMs: 100 } })
  t.teardown(() => setup.cleanup())
  const files = setup.files
  await files.updateFileSystem('default', { lifecycle: { transitionToIaAfterDays: 1 } })
  const top = await setup.root()
  const { handle } = await files.create(root, top, 'old', file)
  await files.write(handle, 0, Buffer.alloc(10_000, 5), 'file-sync')
  clock.advance(2 * dayMs)
  for (let waited = 0; waited < 5000 && (await files.describeFileSystem('default')).usage.infrequentAccess.logicalBytes === 0; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await files.idle()
  t.equal((await files.describeFileSystem('default')).usage.infrequentAccess.logicalBytes, 10_000)
  t.same(await tiersOf(setup, handle), ['cold'])
})
