// scanAll: iterate a whole key range page by page (each page one bounded tx.scan).
//
// Contract: yields every entry in range, in range order, exactly once, using pages of pageSize
// (1..limits.metaScanPageMax); the next page continues strictly after the last key seen, so
// the walk is correct even when the transaction writes inside the range between pages.
// Memory stays bounded by one page. The walk is only as consistent as tx: in read() it is one
// snapshot; in transact() it sees the transaction's own writes as of each page.
import type { Entry, KeyRange, ReadTx } from './meta-store.ts'

export type ScanAllRange = Omit<KeyRange, 'limit'>

export async function* scanAll(tx: ReadTx, range: ScanAllRange, pageSize = 1000): AsyncGenerator<Entry, void, undefined> {
  let bounds: KeyRange = { ...range, limit: pageSize }
  for (;;) {
    const page = await tx.scan(bounds)
    yield* page
    const last = page.at(-1)
    if (page.length < pageSize || last === undefined) return
    if (range.reverse === true) {
      const { lte: _, ...rest } = bounds
      bounds = { ...rest, lt: last.key }
    } else {
      const { gte: _, ...rest } = bounds
      bounds = { ...rest, gt: last.key }
    }
  }
}
