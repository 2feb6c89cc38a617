// Seeded model-based test: random namespace operations (create, mkdir, symlink, link, remove,
// rename), writes at random offsets (holes, overwrites, extension), truncates, commits, opens
// and closes (unlink while open), reads and clean restarts, against a small in-memory model of
// POSIX semantics. Small chunks and small buffer limits exercise extent splitting, early
// ("cut") flushes and writer backpressure. Replay with CAIRN_TEST_SEED=<seed>.
import t, { type Test } from 'tap'
import { SeededRandom, seedFrom, isStoreError } from '../lib/index.ts'
import { FileError, type FileHandle } from './api.ts'
import { filesTestSetup, root, type FilesTestSetup } from './testing.ts'

interface Node {
  readonly id: number
  readonly type: 'regular' | 'directory' | 'symlink'
  nlink: number
  data: Buffer
  target: string
  entries: Map<string, number>
  parent: number
  open: number
}

type Outcome = { ok: true } | { error: string }
const ok: Outcome = { ok: true }
const fail = (error: string): Outcome => ({ error })

/** POSIX semantics in memory: the oracle. */
class Model {
  readonly nodes = new Map<number, Node>()
  readonly handles = new Map<number, FileHandle>()
  #next = 1

  constructor(rootHandle: FileHandle) {
    this.nodes.set(1, { id: 1, type: 'directory', nlink: 2, data: Buffer.alloc(0), target: '', entries: new Map(), parent: 1, open: 0 })
    this.handles.set(1, rootHandle)
  }

  node(id: number): Node {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`model has no node ${id}`)
    return node
  }

  directories(): Node[] {
    return [...this.nodes.values()].filter((node) => node.type === 'directory')
  }

  regulars(): Node[] {
    return [...this.nodes.values()].filter((node) => node.type === 'regular')
  }

  create(parent: Node, name: string, type: Node['type'], target = ''): Outcome & { id?: number } {
    if (parent.entries.has(name)) return fail('ALREADY_EXISTS')
    const node: Node = { id: this.#next += 1, type, nlink: type === 'directory' ? 2 : 1, data: Buffer.alloc(0), target, entries: new Map(), parent: parent.id, open: 0 }
    this.nodes.set(node.id, node)
    parent.entries.set(name, node.id)
    if (type === 'directory') parent.nlink += 1
    return { ok: true, id: node.id }
  }

  link(file: Node, parent: Node, name: string): Outcome {
    if (file.type === 'directory') return fail('is-directory')
    if (parent.entries.has(name)) return fail('ALREADY_EXISTS')
    parent.entries.set(name, file.id)
    file.nlink += 1
    return ok
  }

  #release(node: Node): void {
    if (node.nlink === 0 && node.open === 0) this.nodes.delete(node.id)
  }

  #unlink(parent: Node, name: string, child: Node): void {
    parent.entries.delete(name)
    if (child.type === 'directory') {
      parent.nlink -= 1
      child.nlink = 0
    } else {
      child.nlink -= 1
    }
    this.#release(child)
  }

  remove(parent: Node, name: string): Outcome {
    const id = parent.entries.get(name)
    if (id === undefined) return fail('NOT_FOUND')
    const child = this.node(id)
    if (child.type === 'directory' && child.entries.size > 0) return fail('NOT_EMPTY')
    this.#unlink(parent, name, child)
    return ok
  }

  rename(from: Node, fromName: string, to: Node, toName: string): Outcome {
    const id = from.entries.get(fromName)
    if (id === undefined) return fail('NOT_FOUND')
    const moving = this.node(id)
    const victimId = to.entries.get(toName)
    if (victimId === id) return ok
    if (moving.type === 'directory') {
      for (let cursor = to; ; cursor = this.node(cursor.parent)) {
        if (cursor.id === moving.id) return fail('INVALID_ARGUMENT')
        if (cursor.id === 1) break
      }
    }
    if (victimId !== undefined) {
      const victim = this.node(victimId)
      if (moving.type === 'directory' && victim.type !== 'directory') return fail('not-directory')
      if (moving.type !== 'directory' && victim.type === 'directory') return fail('is-directory')
      if (victim.type === 'directory' && victim.entries.size > 0) return fail('NOT_EMPTY')
      this.#unlink(to, toName, victim)
    }
    from.entries.delete(fromName)
    to.entries.set(toName, id)
    if (moving.type === 'directory' && from !== to) {
      moving.parent = to.id
      from.nlink -= 1
      to.nlink += 1
    }
    return ok
  }

  write(node: Node, offset: number, data: Buffer): void {
    if (offset + data.length > node.data.length) node.data = Buffer.concat([node.data, Buffer.alloc(offset + data.length - node.data.length)])
    data.copy(node.data, offset)
  }

  truncate(node: Node, size: number): void {
    node.data = size <= node.data.length ? Buffer.from(node.data.subarray(0, size)) : Buffer.concat([node.data, Buffer.alloc(size - node.data.length)])
  }

  close(node: Node): void {
    node.open -= 1
    this.#release(node)
  }

  /** A restart: nothing is open any more. */
  restart(): void {
    for (const node of [...this.nodes.values()]) {
      node.open = 0
      this.#release(node)
    }
  }
}

function outcomeOf(error: unknown): Outcome {
  if (error instanceof FileError) return fail(error.reason)
  if (isStoreError(error)) return fail(error.code)
  throw error
}

async function attempt(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    await fn()
    return ok
  } catch (error) {
    return outcomeOf(error)
  }
}

const names = ['a', 'b', 'c', 'd', 'e', 'f']

async function checkTree(t: Test, setup: FilesTestSetup, model: Model): Promise<void> {
  const files = setup.files
  for (const node of model.nodes.values()) {
    const handle = model.handles.get(node.id)!
    const attributes = await files.getAttributes(handle)
    if (attributes.type !== node.type || attributes.nlink !== node.nlink) {
      t.fail(`node ${node.id}: ${attributes.type}/${attributes.nlink}, model ${node.type}/${node.nlink}`)
    }
    if (node.type === 'regular') {
      if (attributes.sizeBytes !== node.data.length) t.fail(`node ${node.id}: size ${attributes.sizeBytes}, model ${node.data.length}`)
      const { data } = await files.read(handle, 0, node.data.length + 10)
      if (!data.equals(node.data)) t.fail(`node ${node.id}: content differs`)
    }
    if (node.type === 'symlink' && (await files.readLink(handle)) !== node.target) t.fail(`node ${node.id}: symlink target differs`)
    if (node.type === 'directory') {
      const listed = new Map<string, FileHandle>()
      for (let cookie = 0n, verifier: Buffer | undefined; ;) {
        const page = await files.readDirectory(root, handle, { cookie, verifier, maxEntries: 3 })
        for (const entry of page.entries) listed.set(entry.name, entry.handle)
        if (page.eof) break
        cookie = page.entries.at(-1)!.cookie
        verifier = page.verifier
      }
      const expected = [...node.entries.keys()].sort()
      if (JSON.stringify([...listed.keys()].sort()) !== JSON.stringify(expected)) t.fail(`dir ${node.id}: ${[...listed.keys()]} vs ${expected}`)
      for (const [name, id] of node.entries) {
        if (!listed.get(name)?.equals(model.handles.get(id)!)) t.fail(`dir ${node.id}: entry ${name} names another object`)
      }
    }
  }
  const usage = (await files.describeFileSystem('default')).usage
  const counted = [...model.nodes.values()]
  t.equal(usage.files + usage.directories + usage.symlinks, counted.length, 'usage counts every live inode')
  const report = await files.check('default')
  t.same(report.problems, [], 'fsck finds nothing wrong')
}

async function runSeed(t: Test, seed: number, steps: number): Promise<void> {
  t.comment(`seed ${seed} (replay with CAIRN_TEST_SEED=${seed})`)
  const random = new SeededRandom(seed)
  const setup = await filesTestSetup({ files: { tuning: { dirtyBytesPerFileFlushAt: 48 * 1024, dirtyBytesMax: 160 * 1024 } } })
  t.teardown(() => setup.cleanup())
  const model = new Model(await setup.root())
  const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T
  const expectSame = (step: number, what: string, got: Outcome, want: Outcome): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`step ${step} ${what}: got ${JSON.stringify(got)}, model ${JSON.stringify(want)}`)
  }
  const handleOf = (node: Node): FileHandle => model.handles.get(node.id)!
  const operate = async (step: number): Promise<void> => {
    const files = setup.files
    const roll = random.int(100)
    const parent = pick(model.directories())
    const name = pick(names)
    if (roll < 12) {
      const type = pick(['regular', 'directory', 'symlink'] as const)
      const object = type === 'regular' ? { type, mode: 0o644, how: { mode: 'guarded' as const } } : type === 'directory' ? { type, mode: 0o755 } : { type, mode: 0o777, target: `t${step}` }
      let handle: FileHandle | undefined
      const got = await attempt(async () => (handle = (await files.create(root, handleOf(parent), name, object)).handle))
      const want = model.create(parent, name, type, type === 'symlink' ? `t${step}` : '')
      expectSame(step, `create ${type} ${name}`, got, 'id' in want ? ok : want)
      if ('id' in want && want.id !== undefined && handle !== undefined) model.handles.set(want.id, handle)
    } else if (roll < 17) {
      const targets = [...model.nodes.values()].filter((node) => node.nlink > 0 && node.id !== 1)
      if (targets.length === 0) return
      const target = pick(targets)
      expectSame(step, `link ${name}`, await attempt(() => files.link(root, handleOf(target), handleOf(parent), name)), model.link(target, parent, name))
    } else if (roll < 27) {
      expectSame(step, `remove ${name}`, await attempt(() => files.remove(root, handleOf(parent), name)), model.remove(parent, name))
    } else if (roll < 40) {
      const to = pick(model.directories())
      const toName = pick(names)
      expectSame(step, `rename ${name} -> ${toName}`, await attempt(() => files.rename(root, handleOf(parent), name, handleOf(to), toName)), model.rename(parent, name, to, toName))
    } else if (roll < 70) {
      const regulars = model.regulars()
      if (regulars.length === 0) return
      const node = pick(regulars)
      const offset = random.int(3) === 0 ? random.int(300_000) : random.int(node.data.length + 5000)
      const data = random.bytes(1 + random.int(random.int(4) === 0 ? 40_000 : 3000))
      const stability = random.int(10) === 0 ? 'file-sync' : 'unstable'
      await files.write(handleOf(node), offset, data, stability)
      model.write(node, offset, data)
    } else if (roll < 75) {
      const regulars = model.regulars()
      if (regulars.length === 0) return
      const node = pick(regulars)
      const size = random.int(node.data.length + 20_000)
      await files.setAttributes(root, handleOf(node), { sizeBytes: size })
      model.truncate(node, size)
    } else if (roll < 85) {
      const regulars = model.regulars()
      if (regulars.length === 0) return
      const node = pick(regulars)
      const offset = random.int(node.data.length + 100)
      const length = random.int(50_000)
      const { data, eof } = await files.read(handleOf(node), offset, length)
      const want = node.data.subarray(Math.min(offset, node.data.length), Math.min(node.data.length, offset + length))
      if (!data.equals(want) || eof !== offset + data.length >= node.data.length) t.fail(`step ${step}: read ${offset}+${length} differs`)
    } else if (roll < 90) {
      const regulars = model.regulars()
      if (regulars.length > 0) await files.commit(handleOf(pick(regulars)))
    } else if (roll < 95) {
      const regulars = model.regulars().filter((node) => node.nlink > 0)
      if (regulars.length === 0) return
      const node = pick(regulars)
      await files.openFile(handleOf(node))
      node.open += 1
    } else if (roll < 99) {
      const open = model.regulars().filter((node) => node.open > 0)
      if (open.length === 0) return
      const node = pick(open)
      await files.closeFile(handleOf(node))
      model.close(node)
    } else {
      await setup.reopen({ tuning: { dirtyBytesPerFileFlushAt: 48 * 1024, dirtyBytesMax: 160 * 1024 } })
      model.restart()
    }
  }
  for (let step = 0; step < steps; step += 1) {
    await operate(step)
    if (step % 200 === 199) {
      await setup.files.idle()
      await checkTree(t, setup, model)
    }
  }
  await setup.files.idle()
  await checkTree(t, setup, model)
  await setup.reopen()
  model.restart()
  await checkTree(t, setup, model)
}

t.test('files behave like the POSIX model', async (t) => {
  const seed = seedFrom(process.env.CAIRN_TEST_SEED)
  await runSeed(t, seed, 1500)
  if (process.env.CAIRN_TEST_SEED === undefined) await runSeed(t, seed + 1, 1500)
})
