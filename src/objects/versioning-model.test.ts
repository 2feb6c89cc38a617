// Seeded model-based test: versioning and listing against a small in-memory model.
// Random puts, deletes, versioned deletes, versioning changes and paged listings (random
// prefixes, delimiters and page sizes) must match the model exactly; at the end everything is
// deleted and the chunk store must hold no referenced chunk (and nothing after GC).
// Repeat a failure with CAIRN_TEST_SEED=<seed printed below>.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { LevelMetaStore, type MetaStore } from '../meta/index.ts'
import { seededRandom } from '../chunk/store-testing.ts'
import type { ObjectsLayer } from './service.ts'
import type { Principal, VersioningState } from './api.ts'
import { commonPrefixOf } from './list.ts'
import { bodyOf, collect, digestsFor, keysIn, objectsTestSetup, referencedChunks } from './testing.ts'

const seed = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 1_000_000)
const operations = Number(process.env.CAIRN_TEST_OPERATIONS ?? 600)
t.comment(`seed ${seed} (set CAIRN_TEST_SEED to repeat)`)

interface ModelVersion {
  versionId: string
  deleteMarker: boolean
  content: string
}

const keys = ['a', 'a/b', 'a/c', 'a/b/c', 'a/b/d', 'ab', 'a-', 'b', 'b/x', 'b/x/y', 'c//d', 'é/1', 'z']
const prefixes = ['', '', 'a', 'a/', 'a/b', 'b/', 'c', 'é', 'q']
const delimiters = [undefined, undefined, '/', '/', 'b', '//', 'x/']

class Rng {
  readonly #random
  constructor(seed: number) {
    this.#random = seededRandom(seed)
  }
  below(n: number): number {
    return this.#random.bytes(4).readUInt32LE(0) % n
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T
  }
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

type Item = string // 'K:key' | 'P:prefix' | 'V:key:versionId:latest:marker'

function expectedObjects(model: Map<string, ModelVersion[]>, prefix: string, delimiter: string | undefined): Item[] {
  const live = [...model].filter(([key, versions]) => key.startsWith(prefix) && versions[0]?.deleteMarker === false).map(([key]) => key).sort(byteOrder)
  return rollUp(live.map((key) => ({ key, items: [`K:${key}`] })), prefix, delimiter)
}

function expectedVersions(model: Map<string, ModelVersion[]>, prefix: string, delimiter: string | undefined): Item[] {
  const present = [...model].filter(([key, versions]) => key.startsWith(prefix) && versions.length > 0).sort(([a], [b]) => byteOrder(a, b))
  return rollUp(present.map(([key, versions]) => ({ key, items: versions.map((version, at) => `V:${key}:${version.versionId}:${at === 0}:${version.deleteMarker}`) })), prefix, delimiter)
}

function rollUp(entries: Array<{ key: string; items: Item[] }>, prefix: string, delimiter: string | undefined): Item[] {
  const out: Item[] = []
  let lastPrefix: string | undefined
  for (const { key, items } of entries) {
    const common = commonPrefixOf(key, prefix, delimiter)
    if (common === undefined) out.push(...items)
    else if (common !== lastPrefix) out.push(`P:${common}`)
    lastPrefix = common ?? lastPrefix
  }
  return out
}

async function listedObjects(objects: ObjectsLayer, principal: Principal, prefix: string, delimiter: string | undefined, rng: Rng): Promise<Item[]> {
  const items: Item[] = []
  let after: string | undefined
  for (let pages = 0; pages < 200; pages++) {
    const maxKeys = 1 + rng.below(4)
    const page = await objects.listObjects({ bucket: 'model', principal, prefix, ...(delimiter === undefined ? {} : { delimiter }), ...(after === undefined ? {} : { after }), maxKeys })
    // Contents and prefixes interleave by key order.
    const pageItems = [...page.contents.map((info) => ({ sort: info.key, item: `K:${info.key}` })), ...page.commonPrefixes.map((common) => ({ sort: common, item: `P:${common}` }))]
      .sort((a, b) => byteOrder(a.sort, b.sort))
    if (pageItems.length > maxKeys) throw new Error(`page of ${pageItems.length} > maxKeys ${maxKeys}`)
    items.push(...pageItems.map((entry) => entry.item))
    if (!page.isTruncated) return items
    if (page.nextAfter === undefined) throw new Error('truncated page without nextAfter')
    after = page.nextAfter
  }
  throw new Error('listing did not end')
}

async function listedVersions(objects: ObjectsLayer, principal: Principal, prefix: string, delimiter: string | undefined, rng: Rng): Promise<Item[]> {
  const items: Item[] = []
  let keyMarker: string | undefined
  let versionIdMarker: string | undefined
  for (let pages = 0; pages < 400; pages++) {
    const maxKeys = 1 + rng.below(4)
    const page = await objects.listObjectVersions({
      bucket: 'model', principal, prefix, maxKeys,
      ...(delimiter === undefined ? {} : { delimiter }),
      ...(keyMarker === undefined ? {} : { keyMarker }),
      ...(versionIdMarker === undefined ? {} : { versionIdMarker }),
    })
    const pageItems = [
      ...page.versions.map((info, at) => ({ sort: info.key, at, item: `V:${info.key}:${info.versionId}:${info.isLatest}:${info.isDeleteMarker}` })),
      ...page.commonPrefixes.map((common) => ({ sort: common, at: 0, item: `P:${common}` })),
    ].sort((a, b) => byteOrder(a.sort, b.sort) || a.at - b.at)
    if (pageItems.length > maxKeys) throw new Error(`page of ${pageItems.length} > maxKeys ${maxKeys}`)
    items.push(...pageItems.map((entry) => entry.item))
    if (!page.isTruncated) return items
    keyMarker = page.nextKeyMarker
    versionIdMarker = page.nextVersionIdMarker
  }
  throw new Error('version listing did not end')
}

t.test(`versioning and listing match the model (seed ${seed})`, async (t) => {
  await runModel(t, operations)
})

t.test(`the model on LevelDB (seed ${seed})`, async (t) => {
  const meta = await LevelMetaStore.open(join(t.testdir(), 'meta'))
  await runModel(t, Math.min(operations, 200), meta)
})

async function runModel(t: Test, operations: number, meta?: MetaStore): Promise<void> {
  const { objects, root, signal, store, chunkStore, cleanup } = await objectsTestSetup({ seed, ...(meta === undefined ? {} : { meta }) })
  t.teardown(cleanup)
  const rng = new Rng(seed)
  const model = new Map<string, ModelVersion[]>()
  let versioning: VersioningState = 'Unversioned'
  let counter = 0
  await objects.createBucket(root, 'model')

  const contentFor = (key: string): string => {
    counter += 1
    // Some bodies are chunk-stored (> 4 KiB) and repeat, so chunks are shared between versions.
    return rng.below(4) === 0 ? `${'x'.repeat(5000)}:${counter % 5}` : `${key}:${counter}`
  }

  for (let step = 0; step < operations; step++) {
    store.clock.advance(rng.below(3))
    const key = rng.pick(keys)
    const versions = model.get(key) ?? []
    const choice = rng.below(100)
    const where = `step ${step}`
    if (choice < 40) {
      const content = contentFor(key)
      const bytes = Buffer.from(content)
      const result = await objects.putObject({ bucket: 'model', key, principal: root, body: bodyOf(bytes, 1000), sizeBytes: bytes.length, digests: digestsFor(bytes), contentHeaders: {}, userMetadata: {}, signal })
      if (versioning === 'Enabled') {
        t.ok(result.versionId !== undefined && result.versionId !== 'null', `${where}: enabled put gets an id`)
        versions.unshift({ versionId: result.versionId as string, deleteMarker: false, content })
      } else {
        t.equal(result.versionId, versioning === 'Unversioned' ? undefined : 'null', `${where}: null version put`)
        const at = versions.findIndex((version) => version.versionId === 'null')
        if (at >= 0) versions.splice(at, 1)
        versions.unshift({ versionId: 'null', deleteMarker: false, content })
      }
    } else if (choice < 58) {
      const result = await objects.deleteObject({ bucket: 'model', key, principal: root, signal })
      if (versioning === 'Unversioned') {
        t.same(result, { deleteMarker: false }, `${where}: unversioned delete`)
        const at = versions.findIndex((version) => version.versionId === 'null')
        if (at >= 0) versions.splice(at, 1)
      } else {
        t.equal(result.deleteMarker, true, `${where}: delete marker`)
        if (versioning === 'Suspended') {
          t.equal(result.versionId, 'null')
          const at = versions.findIndex((version) => version.versionId === 'null')
          if (at >= 0) versions.splice(at, 1)
        }
        versions.unshift({ versionId: result.versionId as string, deleteMarker: true, content: '' })
      }
    } else if (choice < 72 && versions.length > 0) {
      const victim = rng.pick(versions)
      const result = await objects.deleteObject({ bucket: 'model', key, principal: root, versionId: victim.versionId, signal })
      t.same(result, { versionId: victim.versionId, deleteMarker: victim.deleteMarker }, `${where}: versioned delete`)
      versions.splice(versions.indexOf(victim), 1)
    } else if (choice < 76) {
      versioning = rng.below(2) === 0 ? 'Enabled' : 'Suspended'
      await objects.putBucketVersioning(root, 'model', versioning)
    } else if (choice < 86) {
      const got = objects.getObject({ bucket: 'model', key, principal: root, signal })
      const latest = versions[0]
      if (latest === undefined) await t.rejects(got, { code: 'NOT_FOUND', subject: 'key', deleteMarker: undefined }, `${where}: no such key`)
      else if (latest.deleteMarker) await t.rejects(got, { code: 'NOT_FOUND', subject: 'key', deleteMarker: { versionId: latest.versionId } }, `${where}: delete marker`)
      else {
        const result = await got
        t.equal((await collect(result.body)).toString(), latest.content, `${where}: latest content`)
        t.equal(result.version.versionId, latest.versionId)
        t.equal(result.version.isLatest, true)
      }
      if (versions.length > 0) {
        const named = rng.pick(versions)
        const byId = objects.getObject({ bucket: 'model', key, principal: root, versionId: named.versionId, signal })
        if (named.deleteMarker) await t.rejects(byId, { code: 'INVALID_STATE', subject: 'version' }, `${where}: delete marker by id`)
        else {
          const result = await byId
          t.equal((await collect(result.body)).toString(), named.content, `${where}: content by version id`)
          t.equal(result.version.isLatest, named === versions[0], `${where}: isLatest by id`)
        }
      }
    } else {
      const prefix = rng.pick(prefixes)
      const delimiter = rng.pick(delimiters)
      const what = `${where}: prefix ${JSON.stringify(prefix)} delimiter ${JSON.stringify(delimiter)}`
      t.same(await listedObjects(objects, root, prefix, delimiter, rng), expectedObjects(model, prefix, delimiter), `${what}: objects`)
      t.same(await listedVersions(objects, root, prefix, delimiter, rng), expectedVersions(model, prefix, delimiter), `${what}: versions`)
    }
    model.set(key, versions)
  }

  // Delete every version and marker; the bucket must then be deletable and hold no chunk reference.
  for (const [key, versions] of model) {
    for (const version of versions) await objects.deleteObject({ bucket: 'model', key, principal: root, versionId: version.versionId, signal })
  }
  t.same(await listedVersions(objects, root, '', undefined, rng), [], 'nothing left')
  await objects.deleteBucket(root, 'model')
  const referenced = await referencedChunks(store.meta)
  t.equal(referenced, 0, 'every chunk reference was dropped')
  store.clock.advance(10_000)
  await chunkStore.collectGarbage()
  t.equal(await keysIn(store.meta, 'chunk', 'loc'), 0, 'GC past the grace period leaves no chunk')
  t.equal(await keysIn(store.meta, 's3'), 0, 'no s3 record is left')
}
