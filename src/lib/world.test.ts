import t from 'tap'
import { SeededRandom, seedFrom } from './world.ts'

t.test('SeededRandom replays from its seed', async (t) => {
  const a = new SeededRandom(42)
  const b = new SeededRandom(42)
  t.same(a.bytes(37), b.bytes(37))
  t.equal(a.next(), b.next())
  const c = new SeededRandom(43)
  t.not(new SeededRandom(42).bytes(16).toString('hex'), c.bytes(16).toString('hex'))
  const values = Array.from({ length: 1000 }, () => a.int(10))
  t.ok(values.every((value) => value >= 0 && value < 10 && Number.isInteger(value)), 'int stays in [0, bound)')
  t.equal(new Set(values).size, 10, 'every value comes up')
})

t.test('seedFrom', async (t) => {
  t.equal(seedFrom('1234'), 1234)
  t.ok(Number.isSafeInteger(seedFrom(undefined)))
  t.ok(Number.isSafeInteger(seedFrom('nope')))
})
