// SocketReader in its two modes: chunks from 'data' events, and bytes fed from one reused
// receive buffer (adoptSocket), which must be copied before feed() returns.
import { PassThrough } from 'node:stream'
import t from 'tap'
import { SocketReader } from './socket-reader.ts'

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length)
  for (let at = 0; at < length; at += 1) bytes[at] = (at * 31 + seed) & 0xff
  return bytes
}

t.test('fed bytes survive the reuse of the receive buffer', async (t) => {
  const stream = new PassThrough()
  const reader = new SocketReader(stream, 1024, { fed: true })
  const message = pattern(10_000, 7)
  const receive = Buffer.alloc(1500)
  const feedAll = (): void => {
    for (let at = 0; at < message.length; at += receive.length) {
      const length = message.copy(receive, 0, at, Math.min(message.length, at + receive.length))
      reader.feed(receive.subarray(0, length))
      receive.fill(0xee) // the next read overwrites the buffer
    }
  }
  const header = reader.readExactly(28) // pending before any byte arrives: filled in place
  feedAll()
  t.same(await header, message.subarray(0, 28))
  const small = await reader.readExactly(100) // from buffered copies
  t.same(small, message.subarray(28, 128))
  let allocated: Buffer | undefined
  const rest = await reader.readExactly(message.length - 128, (length) => (allocated = Buffer.alloc(length)))
  t.equal(rest, allocated, 'a spanning read lands in the caller-allocated buffer')
  t.same(rest, message.subarray(128))
  t.equal(reader.bufferedBytes, 0)
})

t.test('a pending read is filled across many feeds and the remainder stays buffered', async (t) => {
  const stream = new PassThrough()
  const reader = new SocketReader(stream, 64, { fed: true })
  const message = pattern(5000, 3)
  const payload = reader.readExactly(4000)
  const receive = Buffer.alloc(333)
  for (let at = 0; at < message.length; at += receive.length) {
    const length = message.copy(receive, 0, at, Math.min(message.length, at + receive.length))
    reader.feed(receive.subarray(0, length))
    receive.fill(0)
  }
  t.same(await payload, message.subarray(0, 4000))
  t.same(await reader.readExactly(1000), message.subarray(4000))
})

t.test("'data' chunks: reads span chunks and close rejects a pending read", async (t) => {
  const stream = new PassThrough()
  const reader = new SocketReader(stream, 64)
  const message = pattern(300, 1)
  const first = reader.readExactly(200)
  stream.write(message.subarray(0, 150))
  stream.write(message.subarray(150))
  t.same(await first, message.subarray(0, 200))
  t.same(await reader.readExactly(100), message.subarray(200))
  const pending = reader.readExactly(10)
  reader.close('test over')
  await t.rejects(pending, { code: 'CLOSED' })
  await t.rejects(reader.readExactly(1), { code: 'CLOSED' })
})
