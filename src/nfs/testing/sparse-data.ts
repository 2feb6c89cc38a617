// Sparse file contents in fixed blocks for the in-memory file system: holes cost nothing and
// read as zeroes, so `truncate -s 5G` is cheap.

const blockBytes = 64 * 1024

export class SparseData {
  readonly #blocks = new Map<number, Buffer>()
  #sizeBytes = 0

  get sizeBytes(): number {
    return this.#sizeBytes
  }

  get allocatedBytes(): number {
    return this.#blocks.size * blockBytes
  }

  read(offsetBytes: number, lengthBytes: number): Buffer {
    const end = Math.min(this.#sizeBytes, offsetBytes + lengthBytes)
    if (end <= offsetBytes) return Buffer.alloc(0)
    const out = Buffer.alloc(end - offsetBytes)
    for (let position = offsetBytes; position < end;) {
      const index = Math.floor(position / blockBytes)
      const within = position - index * blockBytes
      const take = Math.min(blockBytes - within, end - position)
      this.#blocks.get(index)?.copy(out, position - offsetBytes, within, within + take)
      position += take
    }
    return out
  }

  write(offsetBytes: number, data: Buffer): void {
    for (let done = 0; done < data.length;) {
      const position = offsetBytes + done
      const index = Math.floor(position / blockBytes)
      const within = position - index * blockBytes
      const take = Math.min(blockBytes - within, data.length - done)
      let block = this.#blocks.get(index)
      if (block === undefined) {
        block = Buffer.alloc(blockBytes)
        this.#blocks.set(index, block)
      }
      data.copy(block, within, done, done + take)
      done += take
    }
    this.#sizeBytes = Math.max(this.#sizeBytes, offsetBytes + data.length)
  }

  truncate(sizeBytes: number): void {
    if (sizeBytes < this.#sizeBytes) {
      const lastIndex = Math.floor(sizeBytes / blockBytes)
      for (const index of [...this.#blocks.keys()]) {
        if (index > lastIndex || (index === lastIndex && sizeBytes % blockBytes === 0)) this.#blocks.delete(index)
      }
      this.#blocks.get(lastIndex)?.fill(0, sizeBytes % blockBytes)
    }
    this.#sizeBytes = sizeBytes
  }
}
