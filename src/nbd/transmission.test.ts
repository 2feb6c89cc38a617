import t from 'tap'
import { StoreError } from '../lib/index.ts'
import {
  NBD_CMD_BLOCK_STATUS, NBD_CMD_CACHE, NBD_CMD_DISC, NBD_CMD_FLAG_DF, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_FLUSH, NBD_CMD_READ, NBD_CMD_TRIM, NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES, NBD_EINVAL, NBD_EIO, NBD_ENOSPC, NBD_ENOTSUP, NBD_EPERM, NBD_ESHUTDOWN,
  NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE, NBD_STATE_HOLE, NBD_STATE_ZERO,
} from './protocol.ts'
import { eventually, startTestServer, type TestServer } from './testing/harness.ts'
import { blockStatusOf, encodeRequest, type RawNbdClient } from './testing/raw-client.ts'

const KiB = 1024
const MiB = 1024 * KiB

async function session(harness: TestServer, options: { structured?: boolean; exportName?: string; via?: 'tcp' | 'unix' } = {}): Promise<RawNbdClient> {
  const client = await harness.connect(options.via)
  await client.handshake()
  const exportName = options.exportName ?? 'vol'
  if (options.structured ?? true) {
    await client.negotiateStructured()
    await client.setMetaContext(exportName, ['base:allocation'])
  }
  const go = await client.go(exportName)
  if (!('sizeBytes' in go)) throw new StoreError('INVALID_STATE', `GO refused: ${go.type}`)
  return client
}

function pattern(lengthBytes: number, seed: number): Buffer {
  const out = Buffer.alloc(lengthBytes)
  for (let index = 0; index < lengthBytes; index += 1) out[index] = (index * 31 + seed) & 0xff
  return out
}

for (const structured of [false, true]) {
  t.test(`commands with ${structured ? 'structured' : 'simple'} replies`, async (t) => {
    const harness = await startTestServer(t)
    const client = await session(harness, { structured })
    const volume = harness.provider.volume('vol')
    const data = pattern(64 * KiB, 7)
    t.equal((await client.request({ type: NBD_CMD_WRITE, offsetBytes: 128 * KiB, data })).errno, 0)
    const read = await client.request({ type: NBD_CMD_READ, offsetBytes: 128 * KiB, lengthBytes: 64 * KiB })
    t.equal(read.errno, 0)
    t.ok(read.data?.equals(data), 'read returns what was written')
    t.equal(read.simple, !structured)
    t.equal((await client.request({ type: NBD_CMD_WRITE, flags: NBD_CMD_FLAG_FUA, offsetBytes: 0, data: pattern(512, 1) })).errno, 0)
    t.equal(volume.counters.fuaWrites, 1, 'FUA reaches the export')
    t.equal((await client.request({ type: NBD_CMD_FLUSH })).errno, 0)
    t.equal(volume.counters.flushes, 1)
    t.equal((await client.request({ type: NBD_CMD_TRIM, offsetBytes: 128 * KiB, lengthBytes: 32 * KiB })).errno, 0)
    t.equal((await client.request({ type: NBD_CMD_WRITE_ZEROES, flags: NBD_CMD_FLAG_NO_HOLE, offsetBytes: 160 * KiB, lengthBytes: 4 * KiB })).errno, 0)
    const after = await client.request({ type: NBD_CMD_READ, offsetBytes: 128 * KiB, lengthBytes: 64 * KiB })
    t.ok(after.data?.subarray(0, 36 * KiB).every((byte) => byte === 0), 'trimmed and zeroed ranges read as zeroes')
    t.ok(after.data?.subarray(36 * KiB).equals(data.subarray(36 * KiB)), 'the rest is intact')
    t.equal((await client.request({ type: NBD_CMD_CACHE, offsetBytes: 0, lengthBytes: 1 * MiB })).errno, 0)
    t.equal(volume.counters.caches, 1)
    for (const type of [NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES, NBD_CMD_CACHE]) {
      const reply = await client.request({ type, offsetBytes: 0, lengthBytes: 0, data: type === NBD_CMD_WRITE ? Buffer.alloc(0) : undefined })
      t.equal(reply.errno, 0, `zero-length type ${type} succeeds without reaching the export`)
    }
    t.same(harness.bugs, [])
  })
}

t.test('errors at the edge keep the connection usable', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness)
  const cases: Array<[string, Parameters<RawNbdClient['request']>[0], number]> = [
    ['write past the end', { type: NBD_CMD_WRITE, offsetBytes: 8 * MiB - 512, data: Buffer.alloc(1024) }, NBD_ENOSPC],
    ['read past the end', { type: NBD_CMD_READ, offsetBytes: 8 * MiB, lengthBytes: 512 }, NBD_EINVAL],
    ['misaligned write', { type: NBD_CMD_WRITE, offsetBytes: 100, data: Buffer.alloc(512) }, NBD_EINVAL],
    ['write over the maximum block size', { type: NBD_CMD_WRITE, offsetBytes: 0, data: Buffer.alloc(2 * MiB) }, NBD_EINVAL],
    ['unknown command', { type: 42, offsetBytes: 0, lengthBytes: 512 }, NBD_EINVAL],
    ['unknown flag', { type: NBD_CMD_READ, flags: 0x100, offsetBytes: 0, lengthBytes: 512 }, NBD_EINVAL],
    ['flush with an offset', { type: NBD_CMD_FLUSH, offsetBytes: 512 }, NBD_EINVAL],
  ]
  for (const [name, spec, errno] of cases) {
    const reply = await client.request(spec)
    t.equal(reply.errno, errno, name)
    t.ok(reply.message !== undefined && reply.message.length > 0, `${name}: a message for the human`)
  }
  const readOnly = await session(harness, { exportName: 'snap' })
  t.equal((await readOnly.request({ type: NBD_CMD_WRITE, offsetBytes: 0, data: Buffer.alloc(512) })).errno, NBD_EPERM)
  t.equal((await readOnly.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 512 })).data?.[0], 0x5a)
  // Storage failures map through errors.ts.
  harness.provider.volume('vol').hook = (operation) => {
    if (operation === 'read') throw new StoreError('IO_ERROR', 'disk on fire')
    if (operation === 'writeZeroes') throw new StoreError('NOT_IMPLEMENTED', 'not fast')
  }
  const failed = await client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 512 })
  t.same([failed.errno, failed.message], [NBD_EIO, 'disk on fire'])
  t.equal((await client.request({ type: NBD_CMD_WRITE_ZEROES, flags: NBD_CMD_FLAG_FAST_ZERO, offsetBytes: 0, lengthBytes: 512 })).errno, NBD_ENOTSUP)
  harness.provider.volume('vol').hook = undefined
  t.equal((await client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 512 })).errno, 0, 'still serving')
  t.ok(harness.logs.some((record) => record.level === 'warn' && record.message === 'NBD request failed'), 'EIO is logged')
  t.same(harness.bugs, [])
})

t.test('a write payload beyond requestMaxBytes is a disconnect, and the export is released once', async (t) => {
  const harness = await startTestServer(t, { limits: { requestMaxBytes: 1 * MiB } })
  const client = await session(harness)
  client.write(encodeRequest({ type: NBD_CMD_WRITE, offsetBytes: 0, lengthBytes: 2 * MiB }, 1n))
  await client.closed
  await eventually(() => harness.provider.releases.length === 1)
  t.same(harness.bugs, [])
})

t.test('bad request magic is a disconnect', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness)
  client.write(Buffer.alloc(28, 0xee))
  await client.closed
  await eventually(() => harness.provider.releases.length === 1)
  t.equal(harness.server.connectionCount, 0)
})

t.test('structured reads: holes as OFFSET_HOLE, DF as one data chunk; block status', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness)
  const data = pattern(64 * KiB, 3)
  await client.request({ type: NBD_CMD_WRITE, offsetBytes: 256 * KiB, data })
  const sparse = await client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 1 * MiB })
  t.same(sparse.chunks.map((chunk) => chunk.type), [NBD_REPLY_TYPE_OFFSET_HOLE, NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE])
  t.ok(sparse.data?.subarray(256 * KiB, 320 * KiB).equals(data))
  t.ok(sparse.data?.subarray(0, 256 * KiB).every((byte) => byte === 0))
  const whole = await client.request({ type: NBD_CMD_READ, flags: NBD_CMD_FLAG_DF, offsetBytes: 0, lengthBytes: 1 * MiB })
  t.same(whole.chunks.map((chunk) => chunk.type), [NBD_REPLY_TYPE_OFFSET_DATA], 'DF: one content chunk')
  t.ok(whole.data?.equals(sparse.data ?? Buffer.alloc(0)))

  await client.request({ type: NBD_CMD_WRITE_ZEROES, flags: NBD_CMD_FLAG_NO_HOLE, offsetBytes: 1 * MiB, lengthBytes: 64 * KiB })
  const hole = NBD_STATE_HOLE | NBD_STATE_ZERO
  const status = await client.request({ type: NBD_CMD_BLOCK_STATUS, offsetBytes: 0, lengthBytes: 1 * MiB })
  t.same(blockStatusOf(status), [[256 * KiB, hole], [64 * KiB, 0], [704 * KiB, hole]])
  const next = await client.request({ type: NBD_CMD_BLOCK_STATUS, offsetBytes: 1 * MiB, lengthBytes: 1 * MiB })
  t.same(blockStatusOf(next), [[64 * KiB, NBD_STATE_ZERO], [960 * KiB, hole]], 'allocated zeroes (NO_HOLE) are ZERO without HOLE')
  const one = await client.request({ type: NBD_CMD_BLOCK_STATUS, flags: NBD_CMD_FLAG_REQ_ONE, offsetBytes: 256 * KiB, lengthBytes: 1 * MiB })
  t.same(blockStatusOf(one), [[64 * KiB, 0]], 'REQ_ONE: a single descriptor')
})

t.test('no export call exceeds the maximum block size: TRIM and FAST_ZERO split, BLOCK_STATUS answers a prefix', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness)
  const volume = harness.provider.volume('vol')
  await client.request({ type: NBD_CMD_WRITE, offsetBytes: 0, data: Buffer.alloc(512, 1) })
  t.equal((await client.request({ type: NBD_CMD_TRIM, offsetBytes: 0, lengthBytes: 8 * MiB })).errno, 0)
  t.equal(volume.counters.trims, 8, '8 MiB trimmed in 1 MiB pieces')
  t.equal((await client.request({ type: NBD_CMD_WRITE_ZEROES, flags: NBD_CMD_FLAG_FAST_ZERO, offsetBytes: 0, lengthBytes: 3 * MiB })).errno, 0)
  t.equal(volume.counters.zeroes, 3)
  const status = await client.request({ type: NBD_CMD_BLOCK_STATUS, offsetBytes: 0, lengthBytes: 8 * MiB })
  t.same(blockStatusOf(status), [[1 * MiB, NBD_STATE_HOLE | NBD_STATE_ZERO]], 'a prefix of at most the maximum block size')
  t.same(harness.bugs, [])
})

t.test('pipelined requests complete out of order, bounded by inFlightRequestsMax', async (t) => {
  const harness = await startTestServer(t, { limits: { inFlightRequestsMax: 3 } })
  const client = await session(harness)
  const volume = harness.provider.volume('vol')
  const gates: Array<() => void> = []
  let seen = 0
  volume.hook = async (operation) => {
    if (operation !== 'read') return
    seen += 1
    await new Promise<void>((resolve) => gates.push(resolve))
  }
  const replies = Array.from({ length: 6 }, (_, index) => client.request({ type: NBD_CMD_READ, offsetBytes: index * 4096, lengthBytes: 4096 }))
  const order: number[] = []
  replies.forEach((reply, index) => void reply.then(() => order.push(index)))
  await eventually(() => seen === 3)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(seen, 3, 'the server stops reading requests at the in-flight limit')
  gates[2]?.()
  await eventually(() => seen === 4)
  gates[3]?.()
  gates[0]?.()
  gates[1]?.()
  await eventually(() => seen === 6)
  gates[5]?.()
  gates[4]?.()
  await Promise.all(replies)
  t.same(order.slice(0, 1), [2], 'the third request answered first')
  t.equal(order.length, 6)
  t.same(harness.bugs, [])
})

t.test('a client that vanishes mid-request: operations aborted, export released once', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness)
  const signals: AbortSignal[] = []
  harness.provider.volume('vol').hook = (_operation, _offset, _length, signal) => {
    signals.push(signal)
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new StoreError('ABORTED', 'aborted'))))
  }
  void client.request({ type: NBD_CMD_WRITE, offsetBytes: 0, data: Buffer.alloc(4096, 1) }).catch(() => undefined)
  void client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 4096 }).catch(() => undefined)
  await eventually(() => signals.length === 2)
  client.close()
  await eventually(() => harness.provider.releases.length === 1)
  t.ok(signals.every((signal) => signal.aborted), 'in-flight operations saw the abort')
  await eventually(() => harness.server.connectionCount === 0)
  t.equal(harness.provider.releases.length, 1)
  t.same(harness.bugs, [])
})

t.test('NBD_CMD_DISC: in-flight requests are answered, then the session ends', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness, { via: 'unix' })
  harness.provider.volume('vol').hook = () => new Promise((resolve) => setTimeout(resolve, 50))
  const write = client.request({ type: NBD_CMD_WRITE, offsetBytes: 0, data: Buffer.alloc(4096, 9) })
  client.sendRequest({ type: NBD_CMD_DISC })
  t.equal((await write).errno, 0, 'the write before DISC was answered')
  await client.closed
  await eventually(() => harness.provider.releases.length === 1)
  t.equal(harness.provider.volume('vol').data[0], 9)
})

t.test('close(): in-flight work finishes, new requests get ESHUTDOWN, stuck work is aborted', async (t) => {
  const harness = await startTestServer(t)
  const client = await session(harness)
  let release: (() => void) | undefined
  harness.provider.volume('vol').hook = (operation, _offset, _length, signal) => {
    if (operation !== 'write') return undefined
    return new Promise<void>((resolve, reject) => {
      release = resolve
      signal.addEventListener('abort', () => reject(new StoreError('ABORTED', 'aborted')))
    })
  }
  const write = client.request({ type: NBD_CMD_WRITE, offsetBytes: 0, data: Buffer.alloc(512, 4) })
  await eventually(() => release !== undefined)
  const closed = harness.server.close({ graceMs: 2000 })
  const late = await client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 512 })
  t.equal(late.errno, NBD_ESHUTDOWN, 'a request during shutdown')
  release?.()
  t.equal((await write).errno, 0, 'the in-flight write finished')
  await closed
  t.equal(harness.provider.releases.length, 1)

  const stuck = await startTestServer(t)
  const stuckClient = await session(stuck)
  stuck.provider.volume('vol').hook = (_operation, _offset, _length, signal) =>
    new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new StoreError('ABORTED', 'aborted'))))
  void stuckClient.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 512 }).catch(() => undefined)
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = Date.now()
  await stuck.server.close({ graceMs: 100 })
  t.ok(Date.now() - started < 2000, 'close() is bounded by the grace period')
  t.equal(stuck.provider.releases.length, 1)
  t.same([...harness.bugs, ...stuck.bugs], [])
})
