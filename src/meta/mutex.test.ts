import t from 'tap'
import { Mutex } from './mutex.ts'

t.test('lock is FIFO and exclusive', async (t) => {
  const mutex = new Mutex()
  const order: string[] = []
  const first = await mutex.lock()
  const second = mutex.lock().then((release) => {
    order.push('second')
    release()
  })
  const third = mutex.lock().then((release) => {
    order.push('third')
    release()
  })
  order.push('first')
  first()
  first() // releasing twice is harmless
  await Promise.all([second, third])
  await mutex.idle()
  t.same(order, ['first', 'second', 'third'])
})

t.test('a waiter whose signal fires gives up at once and passes its turn on', async (t) => {
  const mutex = new Mutex()
  const holder = await mutex.lock()
  const controller = new AbortController()
  const waiting = mutex.lock(controller.signal)
  let laterAcquired = false
  const later = mutex.lock().then((release) => {
    laterAcquired = true
    release()
  })
  controller.abort(new Error('caller gave up'))
  await t.rejects(waiting, { code: 'ABORTED' })
  t.equal(laterAcquired, false, 'the holder still holds the lock')
  holder()
  await later
  t.equal(laterAcquired, true)
  const aborted = AbortSignal.abort()
  await t.rejects(mutex.lock(aborted), { code: 'ABORTED' })
})
