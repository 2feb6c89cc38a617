import t from 'tap'
import { formatSize, parseSize, GiB, KiB } from './bytes.ts'

t.test('parseSize accepts units', async (t) => {
  t.equal(parseSize('4096'), 4096)
  t.equal(parseSize('64KiB'), 64 * KiB)
  t.equal(parseSize('10GiB'), 10 * GiB)
  t.equal(parseSize('10 gib'), 10 * GiB)
  t.equal(parseSize('1.5GB'), 1_500_000_000)
  t.equal(parseSize('2k'), 2000)
})

t.test('parseSize rejects garbage with INVALID_ARGUMENT', async (t) => {
  for (const text of ['', 'ten', '10XB', '-5', '1e9']) {
    t.throws(() => parseSize(text), { code: 'INVALID_ARGUMENT' }, text)
  }
})

t.test('formatSize', async (t) => {
  t.equal(formatSize(0), '0 B')
  t.equal(formatSize(1536), '1.5 KiB')
  t.equal(formatSize(10 * GiB), '10 GiB')
})
