// POSIX rename rules: plain moves within and across directories, replacing an existing target
// (file over file, empty directory over empty directory), refusing directory over file, file
// over directory, directory over a non-empty one, a directory into its own subtree; the same
// inode on both sides is a no-op; replaced files that are open live on until closed; link
// counts and parents follow.
import t from 'tap'
import type { FileHandle } from './api.ts'
import { filesTestSetup, root } from './testing.ts'

const file = { type: 'regular', mode: 0o644, how: { mode: 'guarded' } } as const
const dir = { type: 'directory', mode: 0o755 } as const
const fileError = (reason: string) => ({ name: 'FileError', reason })

t.test('rename', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const names = async (directory: FileHandle): Promise<string[]> =>
    (await files.readDirectory(root, directory, { cookie: 0n, maxEntries: 1000 })).entries.map((entry) => entry.name).sort()

  const a = await files.create(root, top, 'a', file)
  await files.write(a.handle, 0, Buffer.from('A'), 'file-sync')
  const b = await files.create(root, top, 'b', file)
  await files.write(b.handle, 0, Buffer.from('B'), 'file-sync')
  const d1 = await files.create(root, top, 'd1', dir)
  const d2 = await files.create(root, top, 'd2', dir)
  const inner = await files.create(root, d1.handle, 'inner', dir)

  await t.test('within a directory, then across directories', async (t) => {
    const change = await files.rename(root, top, 'a', top, 'a2')
    t.ok(change.from.after > change.from.before)
    t.same(await names(top), ['a2', 'b', 'd1', 'd2'])
    const across = await files.rename(root, top, 'a2', d2.handle, 'a')
    t.ok(across.to.after > across.to.before)
    t.same(await names(d2.handle), ['a'])
    t.ok((await files.lookup(root, d2.handle, 'a')).handle.equals(a.handle), 'the object keeps its handle')
  })

  await t.test('file over file replaces atomically; the replaced file is freed', async (t) => {
    await files.rename(root, top, 'b', d2.handle, 'a')
    t.same(await names(d2.handle), ['a'])
    t.equal((await files.read((await files.lookup(root, d2.handle, 'a')).handle, 0, 10)).data.toString(), 'B')
    await files.idle()
    await t.rejects(files.getAttributes(a.handle), { code: 'NOT_FOUND', subject: 'inode' })
    t.equal((await files.describeFileSystem('default')).usage.files, 1)
  })

  await t.test('same inode on both sides (hard links) is a no-op', async (t) => {
    const target = (await files.lookup(root, d2.handle, 'a')).handle
    await files.link(root, target, d2.handle, 'hard')
    const change = await files.rename(root, d2.handle, 'a', d2.handle, 'hard')
    t.equal(change.from.after, change.from.before)
    t.same(await names(d2.handle), ['a', 'hard'])
    t.equal((await files.getAttributes(target)).nlink, 2)
    await files.remove(root, d2.handle, 'hard')
  })

  await t.test('directories: over an empty directory, not over a file or a non-empty one, not into themselves', async (t) => {
    await t.rejects(files.rename(root, top, 'd1', d2.handle, 'a'), fileError('not-directory'))
    await t.rejects(files.rename(root, d2.handle, 'a', top, 'd1'), fileError('is-directory'))
    await t.rejects(files.rename(root, top, 'd2', top, 'd1'), { code: 'NOT_EMPTY' })
    await t.rejects(files.rename(root, top, 'd1', inner.handle, 'x'), { code: 'INVALID_ARGUMENT' })
    await t.rejects(files.rename(root, top, 'd1', d1.handle, 'x'), { code: 'INVALID_ARGUMENT' })
    const empty = await files.create(root, top, 'empty', dir)
    t.equal((await files.getAttributes(top)).nlink, 5)
    await files.rename(root, d1.handle, 'inner', top, 'empty')
    await t.rejects(files.getAttributes(empty.handle), { code: 'NOT_FOUND' })
    t.ok((await files.lookup(root, top, 'empty')).handle.equals(inner.handle))
    t.ok((await files.lookupParent(root, inner.handle)).handle.equals(top), 'the moved directory has a new parent')
    t.equal((await files.getAttributes(top)).nlink, 5, 'replaced subdirectory out, moved one in')
    t.equal((await files.getAttributes(d1.handle)).nlink, 2)
    await files.rename(root, top, 'empty', d1.handle, 'back')
    t.equal((await files.getAttributes(top)).nlink, 4)
    t.equal((await files.getAttributes(d1.handle)).nlink, 3)
  })

  await t.test('a replaced file that is open keeps its data until closed', async (t) => {
    const victim = await files.create(root, top, 'victim', file)
    await files.write(victim.handle, 0, Buffer.from('still here'), 'file-sync')
    await files.openFile(victim.handle)
    const other = await files.create(root, top, 'other', file)
    await files.rename(root, top, 'other', top, 'victim')
    t.ok((await files.lookup(root, top, 'victim')).handle.equals(other.handle))
    t.equal((await files.read(victim.handle, 0, 100)).data.toString(), 'still here')
    await files.closeFile(victim.handle)
    await files.idle()
    await t.rejects(files.getAttributes(victim.handle), { code: 'NOT_FOUND' })
  })

  await t.test('errors: missing source, bad names, permissions', async (t) => {
    await t.rejects(files.rename(root, top, 'missing', top, 'x'), { code: 'NOT_FOUND', subject: 'entry' })
    await t.rejects(files.rename(root, top, 'victim', top, 'a/b'), fileError('invalid-name'))
    await t.rejects(files.rename({ uid: 5, gid: 5, gids: [] }, top, 'victim', top, 'x'), { code: 'ACCESS_DENIED' })
  })
})
