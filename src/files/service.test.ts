// FileEngine basics: namespace operations and their POSIX errors, data round trips with buffered
// writes, commit and restart, sparse files past 5 GiB, unlink while open, handles across
// restarts, change attribute monotonic across restarts (also after a crash), permissions.
import t from 'tap'
import { createHash } from 'node:crypto'
import type { FileHandle } from './api.ts'
import { filesTestSetup, root } from './testing.ts'
import { decodeHandle } from './handles.ts'
import { entryKey, fileSystemRange } from './keys.ts'
import { encodeEntry } from './records.ts'

const GiB = 2 ** 30
/** Matches a FileError with this POSIX reason. */
const fileError = (reason: string) => ({ name: 'FileError', reason })
const file = { type: 'regular', mode: 0o644, how: { mode: 'guarded' } } as const
const dir = { type: 'directory', mode: 0o755 } as const

function pattern(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  let state = seed
  for (let at = 0; at < length; at += 32) {
    const block = createHash('sha256').update(`${seed}:${state++}`).digest()
    block.copy(out, at, 0, Math.min(32, length - at))
  }
  return out
}

t.test('namespace: create, lookup, readdir, link, symlink, remove', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const a = await files.create(root, top, 'a', file)
  t.equal(a.created, true)
  t.equal(a.attributes.type, 'regular')
  t.equal(a.attributes.nlink, 1)
  t.ok(a.directory.after > a.directory.before, 'directory change moves')
  const sub = await files.create(root, top, 'sub', dir)
  t.equal((await files.getAttributes(top)).nlink, 3, 'root nlink counts the subdirectory')
  t.equal((await files.lookupParent(root, sub.handle)).handle.equals(top), true)
  await t.rejects(files.lookupParent(root, top), { code: 'NOT_FOUND', subject: 'entry' })
  await t.rejects(files.create(root, top, 'a', file), { code: 'ALREADY_EXISTS', subject: 'entry' })
  const again = await files.create(root, top, 'a', { ...file, how: { mode: 'unchecked' } })
  t.equal(again.created, false)
  t.ok(again.handle.equals(a.handle), 'same object, same handle bytes')
  const verifier = Buffer.from('12345678')
  const exclusive = await files.create(root, top, 'x', { ...file, how: { mode: 'exclusive', verifier } })
  const retransmitted = await files.create(root, top, 'x', { ...file, how: { mode: 'exclusive', verifier } })
  t.equal(retransmitted.created, false)
  t.ok(retransmitted.handle.equals(exclusive.handle))
  await t.rejects(files.create(root, top, 'x', { ...file, how: { mode: 'exclusive', verifier: Buffer.from('87654321') } }), { code: 'ALREADY_EXISTS' })

  const linked = await files.link(root, a.handle, sub.handle, 'a-link')
  t.equal(linked.attributes.nlink, 2)
  await t.rejects(files.link(root, sub.handle, top, 'dir-link'), fileError('is-directory'))
  const symlink = await files.create(root, sub.handle, 'to-a', { type: 'symlink', mode: 0o777, target: '../a' })
  t.equal(await files.readLink(symlink.handle), '../a')
  t.equal(symlink.attributes.sizeBytes, 4)
  await t.rejects(files.readLink(a.handle), fileError('not-symlink'))

  t.equal((await files.lookup(root, sub.handle, 'a-link')).handle.equals(a.handle), true)
  await t.rejects(files.lookup(root, sub.handle, 'nope'), { code: 'NOT_FOUND', subject: 'entry' })
  await t.rejects(files.lookup(root, a.handle, 'x'), fileError('not-directory'))
  await t.rejects(files.lookup(root, top, '..'), fileError('invalid-name'))
  await t.rejects(files.lookup(root, top, 'n'.repeat(256)), fileError('name-too-long'))

  const page = await files.readDirectory(root, top, { cookie: 0n, maxEntries: 100 })
  t.same(page.entries.map((entry) => entry.name), ['a', 'sub', 'x'])
  t.equal(page.eof, true)
  const first = await files.readDirectory(root, top, { cookie: 0n, maxEntries: 1 })
  t.equal(first.eof, false)
  const second = await files.readDirectory(root, top, { cookie: first.entries[0]!.cookie, verifier: first.verifier, maxEntries: 2 })
  t.same(second.entries.map((entry) => entry.name), ['sub', 'x'])
  await t.rejects(files.readDirectory(root, top, { cookie: 999n, maxEntries: 1 }), { code: 'INVALID_RANGE' })
  await t.rejects(files.readDirectory(root, top, { cookie: first.entries[0]!.cookie, verifier: Buffer.alloc(8), maxEntries: 1 }), { code: 'PRECONDITION_FAILED' })

  await t.rejects(files.remove(root, top, 'sub'), { code: 'NOT_EMPTY' })
  await files.remove(root, sub.handle, 'a-link')
  t.equal((await files.getAttributes(a.handle)).nlink, 1)
  await files.remove(root, sub.handle, 'to-a')
  await files.remove(root, top, 'sub')
  await t.rejects(files.getAttributes(sub.handle), { code: 'NOT_FOUND', subject: 'inode' })
  t.equal((await files.getAttributes(top)).nlink, 2)
  await files.remove(root, top, 'a')
  await t.rejects(files.getAttributes(a.handle), { code: 'NOT_FOUND', subject: 'inode' })
  await t.rejects(files.getAttributes(Buffer.from('nonsense') as FileHandle), { code: 'INVALID_ARGUMENT' })
})

t.test('data: buffered writes, reads merging buffer and extents, commit, restart', async (t) => {
  const setup = await filesTestSetup({ metaBackend: 'level' })
  t.teardown(() => setup.cleanup())
  let files = setup.files
  const top = await setup.root()
  const { handle } = await files.create(root, top, 'data', file)
  const content = pattern(1, 200_000)
  t.same(await files.write(handle, 0, content.subarray(0, 100_000), 'unstable'), { committed: 'unstable' })
  t.equal((await files.getAttributes(handle)).sizeBytes, 100_000, 'buffered writes show in the size')
  await files.commit(handle)
  await files.write(handle, 100_000, content.subarray(100_000), 'unstable')
  const overwrite = pattern(2, 5000)
  await files.write(handle, 50_000, overwrite, 'unstable')
  content.set(overwrite, 50_000)
  t.ok((await files.read(handle, 0, 300_000)).data.equals(content), 'read merges committed extents and the buffer')
  t.same((await files.read(handle, 199_990, 100)).eof, true)
  await files.commit(handle)
  const middle = await files.read(handle, 49_000, 7000)
  t.ok(middle.data.equals(content.subarray(49_000, 56_000)))
  t.equal(middle.eof, false)
  const verifier = Buffer.from(files.writeVerifier)
  const changeBefore = (await files.getAttributes(handle)).change
  files = await setup.reopen()
  t.notOk(files.writeVerifier.equals(verifier), 'the write verifier changes per start')
  t.ok((await files.read(handle, 0, 300_000)).data.equals(content), 'committed data survives a restart; the handle still works')
  const changeAfter = (await files.getAttributes(handle)).change
  t.ok(changeAfter > changeBefore, 'change moves up across a restart')
  // A crash loses uncommitted writes, and change still never goes back.
  await files.write(handle, 0, Buffer.alloc(10, 9), 'unstable')
  const reported = (await files.getAttributes(handle)).change
  files = await setup.crash()
  t.ok((await files.read(handle, 0, 10)).data.equals(content.subarray(0, 10)), 'the unstable write was lost')
  t.ok((await files.getAttributes(handle)).change > reported, 'change never goes back after a crash')
  // Stable writes are durable at once.
  t.same(await files.write(handle, 0, Buffer.alloc(10, 7), 'file-sync'), { committed: 'file-sync' })
  files = await setup.crash()
  t.ok((await files.read(handle, 0, 10)).data.equals(Buffer.alloc(10, 7)))
})

t.test('sparse files past 5 GiB: holes read as zeroes and are not stored; truncate and extend', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const { handle } = await files.create(root, top, 'big', file)
  const tail = pattern(3, 3000)
  await files.write(handle, 6 * GiB, tail, 'unstable')
  await files.write(handle, 10, Buffer.from('head'), 'unstable')
  await files.commit(handle)
  const attributes = await files.getAttributes(handle)
  t.equal(attributes.sizeBytes, 6 * GiB + 3000)
  t.ok(attributes.spaceUsedBytes < 1_000_000, 'holes are not stored')
  t.ok((await files.read(handle, 6 * GiB, 4000)).data.equals(tail), 'a read far out')
  const hole = await files.read(handle, 3 * GiB, 1 << 20)
  t.equal(hole.data.length, 1 << 20)
  t.ok(hole.data.equals(Buffer.alloc(1 << 20)), 'holes read as zeroes')
  t.ok((await files.read(handle, 8, 8)).data.equals(Buffer.from('\0\0head\0\0')))
  await files.setAttributes(root, handle, { sizeBytes: 8 * GiB })
  t.equal((await files.getAttributes(handle)).sizeBytes, 8 * GiB)
  t.ok((await files.read(handle, 7 * GiB, 100)).data.equals(Buffer.alloc(100)))
  await files.setAttributes(root, handle, { sizeBytes: 6 * GiB + 1000 })
  const cut = await files.read(handle, 6 * GiB, 5000)
  t.ok(cut.data.equals(tail.subarray(0, 1000)))
  t.equal(cut.eof, true)
  await files.setAttributes(root, handle, { sizeBytes: 6 * GiB + 2000 })
  t.ok((await files.read(handle, 6 * GiB, 5000)).data.equals(Buffer.concat([tail.subarray(0, 1000), Buffer.alloc(1000)])), 'extending after a truncate reads zeroes')
  await t.rejects(files.write(handle, 2 ** 50, Buffer.alloc(1), 'unstable'), fileError('file-too-large'))
  const fs = await files.describeFileSystem('default')
  t.equal(fs.usage.standard.logicalBytes, 6 * GiB + 2000)
  t.ok(fs.usage.standard.allocatedBytes > 1000 && fs.usage.standard.allocatedBytes < 10_000)
})

t.test('unlink while open keeps the data until the last close; restart reclaims orphans', async (t) => {
  const setup = await filesTestSetup({ metaBackend: 'level', gcGraceMs: 0 })
  t.teardown(() => setup.cleanup())
  let files = setup.files
  const top = await setup.root()
  const { handle } = await files.create(root, top, 'open', file)
  await files.openFile(handle)
  await files.write(handle, 0, pattern(4, 50_000), 'unstable')
  await files.commit(handle)
  await files.remove(root, top, 'open')
  await t.rejects(files.lookup(root, top, 'open'), { code: 'NOT_FOUND' })
  t.equal((await files.getAttributes(handle)).nlink, 0)
  await files.write(handle, 50_000, Buffer.from('more'), 'unstable')
  t.ok((await files.read(handle, 0, 50_004)).data.subarray(0, 50_000).equals(pattern(4, 50_000)), 'still readable and writable')
  await files.openFile(handle)
  await files.closeFile(handle)
  t.equal((await files.getAttributes(handle)).nlink, 0, 'not the last close')
  await files.closeFile(handle)
  await files.idle()
  await t.rejects(files.getAttributes(handle), { code: 'NOT_FOUND', subject: 'inode' })
  t.equal((await files.describeFileSystem('default')).usage.files, 0)

  // Open + unlink, then a crash: the orphan is reclaimed at the next start.
  const second = await files.create(root, top, 'second', file)
  await files.openFile(second.handle)
  await files.write(second.handle, 0, pattern(5, 30_000), 'file-sync')
  await files.remove(root, top, 'second')
  files = await setup.crash()
  t.equal(files.recovery.orphansReclaimed, 1)
  await t.rejects(files.getAttributes(second.handle), { code: 'NOT_FOUND' })
  const usage = (await files.describeFileSystem('default')).usage
  t.same({ files: usage.files, stored: usage.storedBytes, allocated: usage.standard.allocatedBytes }, { files: 0, stored: 0, allocated: 0 })
})

t.test('permissions, sticky directories, setgid, read-only file systems', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const alice = { uid: 1000, gid: 1000, gids: [] }
  const bob = { uid: 1001, gid: 1001, gids: [50] }
  await t.rejects(files.create(alice, top, 'nope', file), { code: 'ACCESS_DENIED' })
  const shared = await files.create(root, top, 'shared', { type: 'directory', mode: 0o1777 })
  const mine = await files.create(alice, shared.handle, 'mine', file)
  t.equal(mine.attributes.uid, 1000)
  await t.rejects(files.remove(bob, shared.handle, 'mine'), fileError('not-owner'))
  await t.rejects(files.setAttributes(bob, mine.handle, { mode: 0o777 }), fileError('not-owner'))
  await t.rejects(files.setAttributes(alice, mine.handle, { uid: 0 }), fileError('not-owner'))
  await t.rejects(files.setAttributes(bob, mine.handle, { sizeBytes: 0 }), { code: 'ACCESS_DENIED' })
  t.equal((await files.setAttributes(bob, mine.handle, { sizeBytes: 0 }, { openForWrite: true })).sizeBytes, 0)
  t.equal((await files.setAttributes(alice, mine.handle, { mode: 0o600 })).mode, 0o600)
  const group = await files.create(root, top, 'group', { type: 'directory', mode: 0o2777 })
  await files.setAttributes(root, group.handle, { gid: 50 })
  const inherited = await files.create(bob, group.handle, 'sub', dir)
  t.equal(inherited.attributes.gid, 50, 'setgid directories pass their group on')
  t.equal(inherited.attributes.mode & 0o2000, 0o2000)
  await files.remove(alice, shared.handle, 'mine')

  const ro = await files.createFileSystem('ro', { exportPolicy: { readOnly: true } })
  const roInfo = await files.findFileSystem(ro.id)
  t.ok(roInfo !== undefined)
  await t.rejects(files.create(root, roInfo!.rootHandle, 'f', file), fileError('read-only'))
  await t.rejects(files.setAttributes(root, roInfo!.rootHandle, { mode: 0o777 }), fileError('read-only'))
  t.equal((await files.findFileSystem(`ro`))?.id, ro.id)
  const otherFs = await files.createFileSystem('other')
  const other = (await files.findFileSystem(otherFs.id))!
  await t.rejects(files.link(root, group.handle, other.rootHandle, 'x'), fileError('cross-filesystem'))
  await t.rejects(files.rename(root, top, 'group', other.rootHandle, 'x'), fileError('cross-filesystem'))
})

t.test('fsck: a consistent file system has no problems; damage is reported', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const sub = await files.create(root, top, 'sub', dir)
  const a = await files.create(root, sub.handle, 'a', file)
  await files.write(a.handle, 0, pattern(9, 40_000), 'file-sync')
  await files.link(root, a.handle, top, 'a2')
  const clean = await files.check('default')
  t.same(clean.problems, [])
  t.same([clean.inodes, clean.entries], [3, 3])
  const { fsId } = decodeHandle(a.handle)
  await setup.meta.transact(async (tx) => {
    tx.put(entryKey(fsId, 1, 'dangling'), encodeEntry({ inode: 999, cookie: 3, type: 'regular' }))
    tx.delete(entryKey(fsId, 1, 'a2'))
  })
  const damaged = await files.check('default')
  t.match(damaged.problems.join('\n'), /dangling \(inode 999 is missing\)/)
  t.match(damaged.problems.join('\n'), /nlink 2, named 1 times/)
  t.match(damaged.problems.join('\n'), /cookie \d+ in 1 \("a2"\): no such entry by name/)
  t.match(damaged.problems.join('\n'), /directory 1: entry count 2, has 1/)
})

t.test('deleting a file system with open files and buffered writes leaves nothing behind', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const created = await files.createFileSystem('doomed')
  const top = (await files.findFileSystem('doomed'))!.rootHandle
  const { handle } = await files.create(root, top, 'f', file)
  await files.openFile(handle)
  await files.write(handle, 0, pattern(6, 100_000), 'unstable')
  await files.commit(handle)
  await files.write(handle, 100_000, pattern(7, 100_000), 'unstable')
  await files.deleteFileSystem('doomed')
  await t.rejects(files.commit(handle), { code: 'NOT_FOUND', subject: 'filesystem' })
  await t.rejects(files.getAttributes(top), { code: 'NOT_FOUND', subject: 'filesystem' })
  t.equal(await files.findFileSystem('doomed'), undefined)
  await files.idle()
  const left = await setup.meta.read((tx) => tx.scan({ ...fileSystemRange(created.id), limit: 10 }))
  t.same(left, [], 'every record is gone')
  t.equal(files.bufferedBytes, 0)
  const again = await files.createFileSystem('doomed')
  t.not(again.id, created.id, 'the name is free again; the id is new')
})

t.test('export policy changes apply at once to existing handles and survive a reopen', async (t) => {
  const setup = await filesTestSetup({ metaBackend: 'level' })
  t.teardown(() => setup.cleanup())
  let files = setup.files
  const top = await setup.root()
  const kept = await files.create(root, top, 'kept', file)
  await files.updateFileSystem('default', { exportPolicy: { readOnly: true, rootSquash: true, anonymousUid: 7, anonymousGid: 8, allowedClients: ['10.0.0.0/8'] } })
  t.match((await files.fileSystemOf(kept.handle)).exportPolicy, { readOnly: true, rootSquash: true, anonymousUid: 7, anonymousGid: 8, allowedClients: ['10.0.0.0/8'] }, 'a handle from before sees the new policy')
  await t.rejects(files.create(root, top, 'new', file), fileError('read-only'))
  await t.rejects(files.write(kept.handle, 0, Buffer.from('x'), 'file-sync'), fileError('read-only'))
  await t.rejects(files.remove(root, top, 'kept'), fileError('read-only'))
  files = await setup.reopen()
  t.match((await files.findFileSystem('default'))?.exportPolicy, { readOnly: true, rootSquash: true, anonymousUid: 7, allowedClients: ['10.0.0.0/8'] }, 'persisted')
  await files.updateFileSystem('default', { exportPolicy: { readOnly: false, allowedClients: [] } })
  t.match((await files.fileSystemOf(kept.handle)).exportPolicy, { readOnly: false, rootSquash: true, allowedClients: [] }, 'fields not named keep their value')
  await files.write(kept.handle, 0, Buffer.from('x'), 'file-sync')
  t.equal((await files.getAttributes(kept.handle)).sizeBytes, 1, 'writable again')
})
