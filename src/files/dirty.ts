// Buffered (not yet committed) bytes of one file: non-overlapping pieces sorted by offset. A
// newer write replaces what it overlaps; insertUnder() adds bytes only where nothing is buffered
// (to put back older data that a failed or partial flush did not store).
//
// Invariants: pieces never overlap and are sorted; `sizeBytes` is the sum of piece lengths.
// Pieces own their memory (writes are copied in) but may be views of a larger piece's buffer
// after a split. Never: keep a caller's buffer (write data may be a view of a request).

export interface Piece {
  readonly offset: number
  readonly data: Buffer
}

export interface Run {
  readonly offset: number
  readonly lengthBytes: number
  readonly pieces: readonly Buffer[]
}

export class DirtyBuffer {
  #pieces: Piece[] = []
  #sizeBytes = 0

  get sizeBytes(): number {
    return this.#sizeBytes
  }

  get isEmpty(): boolean {
    return this.#pieces.length === 0
  }

  /** One past the last buffered byte (0 when empty). */
  get endBytes(): number {
    const last = this.#pieces.at(-1)
    return last === undefined ? 0 : last.offset + last.data.length
  }

  /** Index of the first piece that ends after `offset`. */
  #firstEndingAfter(offset: number): number {
    let low = 0
    let high = this.#pieces.length
    while (low < high) {
      const middle = (low + high) >>> 1
      const piece = this.#pieces[middle] as Piece
      if (piece.offset + piece.data.length <= offset) low = middle + 1
      else high = middle
    }
    return low
  }

  /** Buffer a copy of `data` at `offset`, replacing older bytes there. */
  write(offset: number, data: Buffer): void {
    if (data.length === 0) return
    const end = offset + data.length
    const first = this.#firstEndingAfter(offset)
    let last = first
    const kept: Piece[] = []
    while (last < this.#pieces.length && (this.#pieces[last] as Piece).offset < end) {
      const piece = this.#pieces[last] as Piece
      const pieceEnd = piece.offset + piece.data.length
      if (piece.offset < offset) kept.push({ offset: piece.offset, data: piece.data.subarray(0, offset - piece.offset) })
      if (pieceEnd > end) kept.push({ offset: end, data: piece.data.subarray(end - piece.offset) })
      this.#sizeBytes -= piece.data.length
      last += 1
    }
    const copy: Piece = { offset, data: Buffer.from(data) }
    const replacement = [...kept.filter((piece) => piece.offset < offset), copy, ...kept.filter((piece) => piece.offset >= end)]
    for (const piece of replacement) this.#sizeBytes += piece.data.length
    this.#pieces.splice(first, last - first, ...replacement)
  }

  /** Add bytes only where nothing is buffered (older data under newer writes). */
  insertUnder(offset: number, data: Buffer): void {
    let position = offset
    const end = offset + data.length
    let index = this.#firstEndingAfter(offset)
    while (position < end) {
      const piece = this.#pieces[index]
      const gapEnd = piece === undefined ? end : Math.min(end, piece.offset)
      if (gapEnd > position) {
        this.#pieces.splice(index, 0, { offset: position, data: data.subarray(position - offset, gapEnd - offset) })
        this.#sizeBytes += gapEnd - position
        index += 1
      }
      if (piece === undefined) break
      position = Math.max(position, piece.offset + piece.data.length)
      index += 1
    }
  }

  /** Copy buffered bytes overlapping [offset, offset + target.length) into target. */
  overlay(offset: number, target: Buffer): void {
    const end = offset + target.length
    for (let index = this.#firstEndingAfter(offset); index < this.#pieces.length; index += 1) {
      const piece = this.#pieces[index] as Piece
      if (piece.offset >= end) break
      const from = Math.max(offset, piece.offset)
      const to = Math.min(end, piece.offset + piece.data.length)
      piece.data.copy(target, from - offset, from - piece.offset, to - piece.offset)
    }
  }

  /** Contiguous runs of buffered bytes, in offset order. */
  runs(): Run[] {
    const runs: Run[] = []
    let current: { offset: number; lengthBytes: number; pieces: Buffer[] } | undefined
    for (const piece of this.#pieces) {
      if (current !== undefined && current.offset + current.lengthBytes === piece.offset) {
        current.pieces.push(piece.data)
        current.lengthBytes += piece.data.length
        continue
      }
      current = { offset: piece.offset, lengthBytes: piece.data.length, pieces: [piece.data] }
      runs.push(current)
    }
    return runs
  }

  /** Drop every buffered byte at or after `sizeBytes`. */
  truncate(sizeBytes: number): void {
    const kept: Piece[] = []
    this.#sizeBytes = 0
    for (const piece of this.#pieces) {
      if (piece.offset >= sizeBytes) continue
      const data = piece.offset + piece.data.length > sizeBytes ? piece.data.subarray(0, sizeBytes - piece.offset) : piece.data
      kept.push({ offset: piece.offset, data })
      this.#sizeBytes += data.length
    }
    this.#pieces = kept
  }
}
