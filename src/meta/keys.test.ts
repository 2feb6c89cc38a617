import t from 'tap'
import { decodeKey, key, prefixRange } from './keys.ts'

t.test('tuple keys round-trip', async (t) => {
  const parts = ['chunk', 'loc', Buffer.from([0, 1, 0, 255, 0]), 42, '', 'a\u0000b']
  t.same(decodeKey(key(...parts)), parts)
})

t.test('tuple keys sort like their parts', async (t) => {
  const tuples = [
    // Parts of different types order by type byte: bytes < string < uint.
    ['a'], ['a', 'x'], ['a', 'x\u0000'], ['a', 'xy'], ['a', 0], ['a', 1], ['a', 256], ['a', 2 ** 40], ['ab'], ['b'],
  ]
  const encoded = tuples.map((tuple) => key(...tuple))
  const sorted = [...encoded].sort(Buffer.compare)
  t.same(sorted, encoded)
})

t.test('prefix ranges include extensions only', async (t) => {
  const range = prefixRange('chunk', 'loc')
  const inside = key('chunk', 'loc', Buffer.alloc(32, 0xff))
  const outside = key('chunk', 'locx')
  t.ok(Buffer.compare(inside, range.gt) > 0 && Buffer.compare(inside, range.lt) < 0)
  t.notOk(Buffer.compare(outside, range.gt) > 0 && Buffer.compare(outside, range.lt) < 0)
  t.notOk(Buffer.compare(key('chunk', 'loc'), range.gt) > 0)
})

t.test('tuple keys keep their on-disk bytes (docs/format/meta-keys.md)', async (t) => {
  // Produced by the original per-part encoder; the encoding is an on-disk format.
  const parts = ['fs', 'f', 'a\u0000b', 'i', 2 ** 53 - 1, 'é日', Buffer.from([0, 1, 0]), 0, 2 ** 32, '']
  t.equal(key(...parts).toString('hex'), '02667300026600026100ff620002690010001fffffffffffff02c3a9e697a5000100ff0100ff001000000000000000001000000001000000000200')
  t.equal(key().length, 0)
})
