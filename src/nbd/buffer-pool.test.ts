// BufferPool: exact-length leases from power-of-two classes, reuse after release, bounded
// retention, double release caught.
import t from 'tap'
import { BufferPool, sizeClassOf } from './buffer-pool.ts'

t.test('leases have the length asked and come from power-of-two classes of at least 4 KiB', async (t) => {
  t.equal(sizeClassOf(1), 4096)
  t.equal(sizeClassOf(4096), 4096)
  t.equal(sizeClassOf(4097), 8192)
  t.equal(sizeClassOf(1 << 20), 1 << 20)
  const pool = new BufferPool(1 << 20)
  const lease = pool.acquire(5000)
  t.equal(lease.bytes.length, 5000)
  t.equal(lease.whole.length, 8192)
  t.equal(lease.bytes.buffer, lease.whole.buffer, 'a view of the pooled buffer')
})

t.test('a released buffer is reused by the next lease of its class, never while leased', async (t) => {
  const pool = new BufferPool(1 << 20)
  const first = pool.acquire(4096)
  const second = pool.acquire(4096)
  t.not(first.whole, second.whole, 'two live leases never share a buffer')
  pool.release(first)
  t.equal(pool.retainedBytes, 4096)
  const third = pool.acquire(3000)
  t.equal(third.whole, first.whole, 'reused')
  t.equal(pool.retainedBytes, 0)
  t.not(pool.acquire(4096).whole, first.whole, 'not handed out twice')
  const large = pool.acquire(70_000)
  t.equal(large.whole.length, 131_072, 'another class')
})

t.test('retention is bounded; a double release is a bug', async (t) => {
  const pool = new BufferPool(8192)
  const leases = [pool.acquire(4096), pool.acquire(4096), pool.acquire(4096)]
  for (const lease of leases) pool.release(lease)
  t.equal(pool.retainedBytes, 8192, 'the third went to the GC')
  t.throws(() => pool.release(leases[0]!), { name: 'AssertionError' })
  const none = new BufferPool(0)
  none.release(none.acquire(100))
  t.equal(none.retainedBytes, 0)
})
