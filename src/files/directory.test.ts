// A directory with 100,000 entries: listed in pages by cookie, each page one bounded metadata
// scan (never the whole directory), cookies stay valid while entries are removed and added
// meanwhile, and lookups stay single reads.
import t from 'tap'
import type { ReadTx } from '../meta/index.ts'
import { filesTestSetup, root } from './testing.ts'

const entryCount = 100_000

t.test('100,000 entries listed in bounded pages', async (t) => {
  const setup = await filesTestSetup()
  t.teardown(() => setup.cleanup())
  const files = setup.files
  const top = await setup.root()
  const { handle: directory } = await files.create(root, top, 'big', { type: 'directory', mode: 0o755 })
  const started = Date.now()
  // One transaction per 5,000 entries: the in-memory store rewrites itself on every commit.
  const batch = 5000
  for (let index = 0; index < entryCount; index += batch) {
    const names = Array.from({ length: batch }, (_, at) => `entry-${(index + at).toString().padStart(6, '0')}`)
    await files.createMany(root, directory, names, { type: 'regular', mode: 0o644, how: { mode: 'guarded' } })
  }
  t.comment(`created ${entryCount} entries in ${Date.now() - started} ms`)
  const listingStarted = Date.now()
  t.equal((await files.getAttributes(directory)).nlink, 2)

  // Count what each readDirectory reads from metadata.
  let largestScan = 0
  let entriesRead = 0
  const meta = setup.meta
  const read = meta.read.bind(meta)
  meta.read = <T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> =>
    read((tx) => fn({
      get: (key) => tx.get(key),
      getMany: (keys) => tx.getMany(keys),
      scan: async (range) => {
        const page = await tx.scan(range)
        largestScan = Math.max(largestScan, page.length)
        entriesRead += page.length
        return page
      },
    }))

  const seen = new Set<string>()
  let cookie = 0n
  let verifier: Buffer | undefined
  let pages = 0
  let removed = 0
  let duplicates = 0
  for (;;) {
    const page = await files.readDirectory(root, directory, { cookie, verifier, maxEntries: 1000 })
    pages += 1
    for (const entry of page.entries) {
      if (seen.has(entry.name)) duplicates += 1
      seen.add(entry.name)
    }
    if (page.eof) break
    const last = page.entries.at(-1)!
    cookie = last.cookie
    verifier = page.verifier
    if (pages === 10) {
      // Removing the entry a cookie came from, and adding new ones, keeps the listing going.
      await files.remove(root, directory, last.name)
      await files.create(root, directory, 'late-arrival', { type: 'regular', mode: 0o644, how: { mode: 'guarded' } })
      removed += 1
    }
  }
  meta.read = read
  t.comment(`listed them in ${Date.now() - listingStarted} ms`)
  t.equal(pages, 101)
  t.equal(duplicates, 0, 'no entry twice')
  t.equal(seen.size, entryCount + 1, 'every entry once, and the one added during the listing')
  t.ok(seen.has('late-arrival'))
  t.ok(largestScan <= 1001, `each page is one bounded scan (largest ${largestScan})`)
  t.ok(entriesRead <= entryCount + pages * 2 + 10, `the directory was read once over all pages (${entriesRead} entries read)`)
  t.equal(removed, 1)
  const found = await files.lookup(root, directory, 'entry-054321')
  t.equal(found.attributes.type, 'regular')
  t.equal((await files.describeFileSystem('default')).usage.files, entryCount)
})
