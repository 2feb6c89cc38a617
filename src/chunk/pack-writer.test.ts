import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { plainDomainKeys } from '../crypto/index.ts'
import { nodeIo, type FileHandle, type Io } from '../io/index.ts'
import { ManualClock } from '../lib/index.ts'
import { MemoryMetaStore } from '../meta/index.ts'
import { createChunkHasher } from './hash.ts'
import { PackCatalog } from './pack-catalog.ts'
import { PackWriter } from './pack-writer.ts'
import { encodeFrame } from './store-codec.ts'
import { seededRandom } from './store-testing.ts'

/** An Io whose file fsyncs wait until release() is called. */
function gatedIo(inner: Io) {
  let gate: Promise<void> = Promise.resolve()
  let open: () => void = () => {}
  const io: Io = {
    ...inner,
    async open(path, flags, mode): Promise<FileHandle> {
      const handle = await inner.open(path, flags, mode)
      return {
        get path() {
          return handle.path
        },
        read: (...args) => handle.read(...args),
        readInline: (...args) => handle.readInline(...args),
        writeInline: (...args) => handle.writeInline(...args),
        write: (...args) => handle.write(...args),
        writev: (...args) => handle.writev(...args),
        sync: async () => {
          await gate
          await handle.sync()
        },
        truncate: (length) => handle.truncate(length),
        sizeBytes: () => handle.sizeBytes(),
        close: () => handle.close(),
      }
    },
  }
  return {
    io,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve
      })
    },
    release: () => open(),
  }
}

t.test('queued bytes are bounded: appenders wait for room, and can abort while waiting', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-writer-'))
  t.teardown(() => rm(directory, { recursive: true, force: true }))
  const gated = gatedIo(nodeIo)
  const catalog = new PackCatalog(new MemoryMetaStore(), new ManualClock(), { hot: directory, cold: join(directory, 'cold') })
  const random = seededRandom(7)
  const frameOf = () => {
    const plain = random.bytes(1000)
    return encodeFrame(createChunkHasher('blake3').id(plain), plain, plainDomainKeys, { compression: false, random })
  }
  const frameBytes = frameOf().frameBytes
  const writer = new PackWriter({ io: gated.io, tier: 'hot', catalog, hashAlgorithmCode: 2, packTargetBytes: 1 << 20, writeQueueMaxBytes: 3 * frameBytes, log: () => {} })
  gated.hold()
  const settled: string[] = []
  const appends = Array.from({ length: 6 }, (_, at) =>
    writer.append(frameOf(), undefined).then(
      () => settled.push(`done ${at}`),
      (error: { code?: string }) => settled.push(`failed ${at} ${error.code}`),
    ),
  )
  const controller = new AbortController()
  const aborted = writer.append(frameOf(), undefined, controller.signal)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(settled, [], 'nothing is durable while the fsync hangs')
  controller.abort()
  await t.rejects(aborted, { code: 'ABORTED' }, 'a writer waiting for room can abort')
  gated.release()
  await Promise.all(appends)
  t.equal(settled.length, 6)
  t.ok(settled.every((entry) => entry.startsWith('done')))
  t.ok(writer.counters.batches >= 2, `${writer.counters.batches} batches: the queue never held all six`)
  await writer.close()
  await t.rejects(writer.append(frameOf(), undefined), { code: 'CLOSED' })
})
