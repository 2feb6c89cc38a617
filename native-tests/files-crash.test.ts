// Crash safety of the files layer: a child process runs a seeded mix of namespace operations,
// writes with commits, truncates, unstable writes and unlink-while-open on a LevelDB-backed
// engine, journaling each operation before it starts and once it resolved; the parent kills it
// with SIGKILL at a random moment, reopens the data, and checks that
// - the namespace is consistent (fsck: no dangling entries, link counts, parents, no leaked
//   inodes, chunk counts) and orphans of unlinked-open files were reclaimed at start;
// - every acknowledged operation is there, and every file whose last acknowledged change was a
//   commit has exactly its committed content (the one in-flight operation may or may not have
//   happened; files with uncommitted writes may hold any mix).
// Three rounds, each child continuing on what the previous crash left.
// Replay with CAIRN_TEST_SEED=<seed>.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SeededRandom, seedFrom } from '../src/lib/index.ts'
import type { FileEngine, FileHandle } from '../src/files/index.ts'
import { filesTestSetup, root } from '../src/files/testing.ts'

const thisFile = fileURLToPath(import.meta.url)
const childDirEnv = 'CAIRN_FILES_CRASH_CHILD_DIR'

interface Found {
  readonly type: 'regular' | 'directory' | 'symlink'
  readonly handle: FileHandle
  readonly fileId: number
}

/** Every path of the file system (directories end without a slash; the root is ''). */
async function walk(files: FileEngine, top: FileHandle): Promise<Map<string, Found>> {
  const found = new Map<string, Found>()
  const visit = async (directory: FileHandle, prefix: string): Promise<void> => {
    for (let cookie = 0n, verifier: Buffer | undefined; ;) {
      const page = await files.readDirectory(root, directory, { cookie, verifier, maxEntries: 500 })
      for (const entry of page.entries) {
        const path = `${prefix}/${entry.name}`
        found.set(path, { type: entry.attributes.type, handle: entry.handle, fileId: entry.attributes.fileId })
        if (entry.attributes.type === 'directory') await visit(entry.handle, path)
      }
      if (page.eof) return
      cookie = page.entries.at(-1)!.cookie
      verifier = page.verifier
    }
  }
  await visit(top, '')
  return found
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

// ---------------------------------------------------------------- child: the workload

async function child(directory: string, seed: number): Promise<void> {
  const setup = await filesTestSetup({ metaBackend: 'level', directory })
  const files = setup.files
  const top = await setup.root()
  const random = new SeededRandom(seed)
  const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`)
  // The child's view: paths -> handles, file contents by inode.
  const paths = new Map<string, Found>()
  const contents = new Map<number, Buffer>()
  for (const [path, entry] of await walk(files, top)) {
    paths.set(path, entry)
    if (entry.type === 'regular') contents.set(entry.fileId, (await files.read(entry.handle, 0, 1 << 24)).data)
  }
  const directories = (): string[] => ['', ...[...paths].filter(([, entry]) => entry.type === 'directory').map(([path]) => path)]
  const regulars = (): string[] => [...paths].filter(([, entry]) => entry.type === 'regular').map(([path]) => path)
  const handleOf = (path: string): FileHandle => (path === '' ? top : paths.get(path)!.handle)
  const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/'))
  const nameOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1)
  const pick = <T>(items: readonly T[]): T | undefined => items[random.int(items.length)]
  let counter = 0
  const freshPath = (): string => `${pick(directories()) ?? ''}/n${seed}-${counter++}`
  const committed = (path: string) => {
    const entry = paths.get(path)!
    const data = contents.get(entry.fileId)!
    return { fileId: entry.fileId, sha: sha(data), size: data.length }
  }
  const writeSome = async (path: string, stability: 'unstable' | 'file-sync'): Promise<void> => {
    const entry = paths.get(path)!
    let data = contents.get(entry.fileId) ?? Buffer.alloc(0)
    for (let pieces = 1 + random.int(3); pieces > 0; pieces -= 1) {
      const offset = random.int(data.length + 50_000)
      const piece = random.bytes(1 + random.int(60_000))
      await files.write(entry.handle, offset, piece, stability)
      if (offset + piece.length > data.length) data = Buffer.concat([data, Buffer.alloc(offset + piece.length - data.length)])
      piece.copy(data, offset)
    }
    contents.set(entry.fileId, data)
  }
  const opened: FileHandle[] = []
  for (let step = 0; ; step += 1) {
    const roll = random.int(100)
    const files_ = regulars()
    if (roll < 15) {
      const path = freshPath()
      say({ begin: { paths: [path] } })
      const created = await files.create(root, handleOf(parentOf(path)), nameOf(path), { type: 'directory', mode: 0o755 })
      paths.set(path, { type: 'directory', handle: created.handle, fileId: created.attributes.fileId })
      say({ done: { mkdir: path } })
    } else if (roll < 35 || files_.length === 0) {
      const path = freshPath()
      say({ begin: { paths: [path] } })
      const created = await files.create(root, handleOf(parentOf(path)), nameOf(path), { type: 'regular', mode: 0o644, how: { mode: 'guarded' } })
      paths.set(path, { type: 'regular', handle: created.handle, fileId: created.attributes.fileId })
      contents.set(created.attributes.fileId, Buffer.alloc(0))
      await writeSome(path, 'unstable')
      await files.commit(created.handle)
      say({ done: { file: path, ...committed(path) } })
    } else if (roll < 50) {
      const path = pick(files_)!
      say({ begin: { paths: [path], fileId: paths.get(path)!.fileId } })
      await writeSome(path, random.int(4) === 0 ? 'file-sync' : 'unstable')
      await files.commit(handleOf(path))
      say({ done: { file: path, ...committed(path) } })
    } else if (roll < 60) {
      const path = pick(files_)!
      say({ dirty: { fileId: paths.get(path)!.fileId } })
      await writeSome(path, 'unstable')
    } else if (roll < 65) {
      const path = pick(files_)!
      const entry = paths.get(path)!
      say({ begin: { paths: [path], fileId: entry.fileId } })
      const size = random.int((contents.get(entry.fileId)?.length ?? 0) + 30_000)
      await files.setAttributes(root, entry.handle, { sizeBytes: size })
      const data = contents.get(entry.fileId)!
      contents.set(entry.fileId, size <= data.length ? data.subarray(0, size) : Buffer.concat([data, Buffer.alloc(size - data.length)]))
      say({ done: { file: path, ...committed(path) } })
    } else if (roll < 77) {
      // Rename a file (sometimes over another file) or a directory (not into itself).
      const from = pick([...paths.keys()])!
      const over = paths.get(from)!.type === 'regular' && random.int(3) === 0 ? pick(files_.filter((path) => path !== from)) : undefined
      const to = over ?? `${pick(directories().filter((path) => path !== from && !path.startsWith(`${from}/`))) ?? ''}/r${seed}-${counter++}`
      say({ begin: { paths: [from, to], prefix: true } })
      await files.rename(root, handleOf(parentOf(from)), nameOf(from), handleOf(parentOf(to)), nameOf(to))
      if (over !== undefined && paths.get(over)!.fileId === paths.get(from)!.fileId) {
        say({ done: { same: { from, to } } }) // two links of one file: POSIX says rename does nothing
        continue
      }
      const moved = [...paths].filter(([path]) => path === from || path.startsWith(`${from}/`))
      if (over !== undefined) paths.delete(over)
      for (const [path, entry] of moved) {
        paths.delete(path)
        paths.set(to + path.slice(from.length), entry)
      }
      say({ done: { rename: { from, to } } })
    } else if (roll < 86) {
      const empty = directories().filter((path) => path !== '' && ![...paths.keys()].some((other) => other.startsWith(`${path}/`)))
      const path = random.int(4) === 0 && empty.length > 0 ? pick(empty)! : pick(files_)!
      say({ begin: { paths: [path] } })
      await files.remove(root, handleOf(parentOf(path)), nameOf(path))
      paths.delete(path)
      say({ done: { remove: path } })
    } else if (roll < 92) {
      const source = pick(files_)!
      const path = freshPath()
      say({ begin: { paths: [path] } })
      await files.link(root, handleOf(source), handleOf(parentOf(path)), nameOf(path))
      paths.set(path, paths.get(source)!)
      say({ done: { link: { source, path } } })
    } else {
      // Unlink while open: never closed, so the crash leaves an orphan to reclaim.
      const path = pick(files_)!
      const entry = paths.get(path)!
      await files.openFile(entry.handle)
      opened.push(entry.handle)
      say({ begin: { paths: [path] } })
      await files.remove(root, handleOf(parentOf(path)), nameOf(path))
      paths.delete(path)
      say({ done: { remove: path } })
      // Still writable; other hard links of the file see it (uncommitted for the checks).
      say({ dirty: { fileId: entry.fileId } })
      const piece = random.bytes(10_000)
      await files.write(entry.handle, 0, piece, 'unstable')
      const data = contents.get(entry.fileId)!
      const grown = data.length >= piece.length ? Buffer.from(data) : Buffer.concat([data, Buffer.alloc(piece.length - data.length)])
      piece.copy(grown)
      contents.set(entry.fileId, grown)
    }
    if (step % 10 === 0) say({ step })
  }
}

// ---------------------------------------------------------------- parent: the checks

interface Expected {
  /** path -> fileId for regular files, 'dir' for directories. */
  readonly paths: Map<string, number | 'dir'>
  /** fileId -> committed content (sha, size), or undefined when uncommitted writes may have landed. */
  readonly contents: Map<number, { sha: string; size: number } | undefined>
}

function applyJournal(expected: Expected, lines: string[]): { skipped: string[] } {
  let pending: { paths: string[]; fileId?: number } | undefined
  for (const line of lines) {
    const record = JSON.parse(line) as Record<string, any>
    if (record.begin !== undefined) pending = record.begin
    if (record.dirty !== undefined) expected.contents.set(record.dirty.fileId, undefined)
    const done = record.done
    if (done === undefined) continue
    pending = undefined
    if (done.mkdir !== undefined) expected.paths.set(done.mkdir, 'dir')
    if (done.file !== undefined) {
      expected.paths.set(done.file, done.fileId)
      expected.contents.set(done.fileId, { sha: done.sha, size: done.size })
    }
    if (done.remove !== undefined) expected.paths.delete(done.remove)
    if (done.link !== undefined) expected.paths.set(done.link.path, expected.paths.get(done.link.source)!)
    if (done.rename !== undefined) {
      const { from, to } = done.rename as { from: string; to: string }
      const moved = [...expected.paths].filter(([path]) => path === from || path.startsWith(`${from}/`))
      expected.paths.delete(to)
      for (const [path, value] of moved) {
        expected.paths.delete(path)
        expected.paths.set(to + path.slice(from.length), value)
      }
    }
  }
  if (pending?.fileId !== undefined) expected.contents.set(pending.fileId, undefined)
  return { skipped: pending?.paths ?? [] }
}

async function parent(): Promise<void> {
  const { default: t } = await import('tap')
  t.test('namespace and committed data survive SIGKILL', async (t) => {
    const seed = seedFrom(process.env.CAIRN_TEST_SEED)
    t.comment(`seed ${seed} (replay with CAIRN_TEST_SEED=${seed})`)
    const directory = mkdtempSync(join(tmpdir(), 'cairn-files-crash-'))
    t.teardown(() => rmSync(directory, { recursive: true, force: true }))
    const random = new SeededRandom(seed)
    const expected: Expected = { paths: new Map(), contents: new Map() }
    for (let round = 0; round < 3; round += 1) {
      const lines = await runChild(directory, seed * 10 + round, 800 + random.int(1500))
      const { skipped } = applyJournal(expected, lines)
      t.ok(lines.filter((line) => line.startsWith('{"done"')).length > 5, `round ${round}: the child acknowledged operations before the kill`)
      const setup = await filesTestSetup({ metaBackend: 'level', directory })
      try {
        const files = setup.files
        const report = await files.check('default')
        t.same(report.problems, [], `round ${round}: fsck finds nothing wrong`)
        t.equal(report.orphans, 0, `round ${round}: orphans of unlinked-open files were reclaimed at start`)
        const actual = await walk(files, await setup.root())
        const skip = (path: string): boolean => skipped.some((prefix) => path === prefix || path.startsWith(`${prefix}/`) || prefix.startsWith(`${path}/`))
        let checkedFiles = 0
        for (const [path, want] of expected.paths) {
          if (skip(path)) continue
          const got = actual.get(path)
          if (got === undefined) {
            t.fail(`round ${round}: ${path} was acknowledged but is missing`)
            continue
          }
          if (want === 'dir') {
            if (got.type !== 'directory') t.fail(`round ${round}: ${path} should be a directory`)
            continue
          }
          const content = expected.contents.get(want)
          if (content === undefined) continue
          const data = (await files.read(got.handle, 0, content.size + 100)).data
          if (data.length !== content.size || sha(data) !== content.sha) t.fail(`round ${round}: ${path} does not hold its committed content`)
          checkedFiles += 1
        }
        for (const path of actual.keys()) {
          if (expected.paths.has(path) || skip(path)) continue
          t.fail(`round ${round}: ${path} exists but was never acknowledged`)
          if (process.env.CAIRN_FILES_CRASH_DEBUG !== undefined) console.error(lines.filter((line) => line.includes(path.split('/').at(-1)!)).join('\n'))
        }
        t.comment(`round ${round}: ${lines.length} journal lines, ${actual.size} paths, ${checkedFiles} files checked byte for byte, ${files.recovery.orphansReclaimed} orphans reclaimed at start`)
        // The next round starts from what is actually there.
        expected.paths.clear()
        for (const [path, entry] of actual) {
          if (entry.type === 'directory') expected.paths.set(path, 'dir')
          else {
            expected.paths.set(path, entry.fileId)
            expected.contents.set(entry.fileId, { sha: sha((await files.read(entry.handle, 0, 1 << 24)).data), size: (await files.getAttributes(entry.handle)).sizeBytes })
          }
        }
      } finally {
        await setup.files.close()
        await setup.chunkStore.close()
        await setup.meta.close()
      }
    }
  })
}

/** Run the workload in a child process; SIGKILL it killAfterMs after it started working. */
function runChild(directory: string, seed: number, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [thisFile], { env: { ...process.env, [childDirEnv]: directory, CAIRN_FILES_CRASH_SEED: String(seed) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timer: ReturnType<typeof setTimeout> | undefined
    process_.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text
      // Start the clock once the child acknowledged a few operations (its start-up and its pace
      // vary with the machine's load), so every round kills a child in the middle of its work.
      if (timer === undefined && stdout.split('\n').filter((line) => line.startsWith('{"done"')).length > 5) {
        timer = setTimeout(() => process_.kill('SIGKILL'), killAfterMs)
      }
    })
    process_.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const safety = setTimeout(() => process_.kill('SIGKILL'), 60_000)
    process_.on('error', reject)
    process_.on('exit', (code, signal) => {
      clearTimeout(safety)
      if (timer !== undefined) clearTimeout(timer)
      if (signal !== 'SIGKILL') reject(new Error(`the child exited on its own (${code}, ${signal}):\n${stderr}`))
      else resolve(stdout.split('\n').slice(0, -1).filter((line) => line.startsWith('{')))
    })
  })
}

const childDirectory = process.env[childDirEnv]
if (childDirectory !== undefined) await child(childDirectory, Number(process.env.CAIRN_FILES_CRASH_SEED))
else await parent()
