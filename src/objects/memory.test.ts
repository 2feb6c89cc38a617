// A large PUT streams: memory stays bounded by the chunks in flight, never by the object size.
// Peak RSS and external (Buffer) memory are sampled while a 64 MiB body is consumed.
import t from 'tap'
import { randomFillSync } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { MiB } from '../lib/index.ts'
import { collect, objectsTestSetup } from './testing.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

t.test('a 64 MiB PUT and GET stay within bounded memory', async (t) => {
  const setup = await objectsTestSetup()
  t.teardown(setup.cleanup)
  const { objects, root, signal } = setup
  await objects.createBucket(root, 'memory')
  const totalBytes = 64 * MiB
  const piece = Buffer.alloc(64 * 1024)
  gc()
  const before = process.memoryUsage()
  let peakRss = before.rss
  let peakExternal = before.external
  let samples = 0
  const sample = () => {
    const now = process.memoryUsage()
    peakRss = Math.max(peakRss, now.rss)
    peakExternal = Math.max(peakExternal, now.external)
    samples += 1
  }
  async function* body() {
    for (let sent = 0; sent < totalBytes; sent += piece.length) {
      randomFillSync(piece) // the edge reuses its buffers too
      if ((sent / piece.length) % 32 === 0) {
        gc()
        sample()
      }
      yield piece
    }
  }
  const put = await objects.putObject({ bucket: 'memory', key: 'big', principal: root, body: body(), sizeBytes: totalBytes, digests: async () => ({ md5Hex: '0'.repeat(32) }), contentHeaders: {}, userMetadata: {}, signal })
  t.equal(put.sizeBytes, totalBytes)
  t.ok(samples >= 30, `${samples} samples`)
  const growthRss = (peakRss - before.rss) / MiB
  const growthExternal = (peakExternal - before.external) / MiB
  t.comment(`PUT: peak RSS +${growthRss.toFixed(1)} MiB, peak external +${growthExternal.toFixed(1)} MiB over ${samples} samples`)
  t.ok(growthExternal < 40, 'Buffer memory is bounded by the chunks in flight')
  t.ok(growthRss < 96, 'RSS is bounded')

  gc()
  const beforeRead = process.memoryUsage()
  let readPeakExternal = beforeRead.external
  let readBytes = 0
  let reads = 0
  const got = await objects.getObject({ bucket: 'memory', key: 'big', principal: root, signal })
  for await (const chunk of got.body ?? []) {
    readBytes += chunk.length
    if (reads++ % 4 !== 0) continue
    gc() // live memory only: the chunk in hand and the reads ahead
    readPeakExternal = Math.max(readPeakExternal, process.memoryUsage().external)
  }
  t.equal(readBytes, totalBytes)
  const readGrowth = (readPeakExternal - beforeRead.external) / MiB
  t.comment(`GET: peak external +${readGrowth.toFixed(1)} MiB`)
  t.ok(readGrowth < 24, 'a GET holds at most a few chunks')
  t.equal((await collect((await objects.getObject({ bucket: 'memory', key: 'big', principal: root, range: { first: 5, last: 9 }, signal })).body)).length, 5)
})
