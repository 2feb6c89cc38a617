// InlineGate: inline while fast, the pool for a backoff window after a slow inline call.
import t from 'tap'
import type { FileHandle } from './io.ts'
import { InlineGate } from './inline-gate.ts'

function fakeHandle(clock: { ms: number }, inlineCostMs: () => number): FileHandle & { calls: string[] } {
  const calls: string[] = []
  return {
    path: '/fake',
    calls,
    read: async (_buffer, _offset, length) => (calls.push('read'), length),
    readInline: (_buffer, _offset, length) => {
      calls.push('readInline')
      clock.ms += inlineCostMs()
      return length
    },
    write: async (_buffer, _offset, length) => (calls.push('write'), length),
    writeInline: (_buffer, _offset, length) => {
      calls.push('writeInline')
      clock.ms += inlineCostMs()
      return length
    },
    writev: async () => 0,
    sync: async () => {},
    truncate: async () => {},
    sizeBytes: async () => 0,
    close: async () => {},
  }
}

t.test('fast calls stay inline; a slow one sends calls to the pool for the backoff window', async (t) => {
  const clock = { ms: 0 }
  let cost = 0.01
  const handle = fakeHandle(clock, () => cost)
  const gate = new InlineGate({ slowMs: 0.5, backoffMs: 100, inlineBytesMax: 4096, now: () => clock.ms })
  const buffer = Buffer.alloc(8192)
  t.equal(await gate.read(handle, buffer, 0, 4096, 0), 4096)
  t.equal(await gate.write(handle, buffer, 0, 4096, 0), 4096)
  t.equal(await gate.read(handle, buffer, 0, 8192, 0), 8192, 'larger than inlineBytesMax: the pool')
  t.same(handle.calls.splice(0), ['readInline', 'writeInline', 'read'])
  cost = 2 // a cache miss
  await gate.read(handle, buffer, 0, 4096, 0)
  cost = 0.01
  await gate.read(handle, buffer, 0, 4096, 0)
  await gate.write(handle, buffer, 0, 4096, 0)
  t.same(handle.calls.splice(0), ['readInline', 'read', 'write'], 'after a slow call: the pool')
  clock.ms += 100
  await gate.read(handle, buffer, 0, 4096, 0)
  t.same(handle.calls.splice(0), ['readInline'], 'inline again after the window')
  t.same(gate.counts, { inline: 4, pool: 3, slow: 1 })
})

t.test('errors of inline calls reject like the pool path', async (t) => {
  const clock = { ms: 0 }
  const handle = fakeHandle(clock, () => 0)
  handle.readInline = () => {
    throw new Error('EIO')
  }
  const gate = new InlineGate({ slowMs: 0.5, backoffMs: 100, inlineBytesMax: 4096, now: () => clock.ms })
  await t.rejects(gate.read(handle, Buffer.alloc(10), 0, 10, 0), /EIO/)
})
