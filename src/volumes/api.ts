// The volumes layer's contract with block front-ends (src/nbd): EBS semantics without NBD.
// The NBD server validates every request at the protocol edge (range, alignment, size limits,
// flags) and maps StoreError codes to NBD errno in one switch: INVALID_ARGUMENT/INVALID_RANGE ->
// EINVAL, NO_SPACE -> ENOSPC, ACCESS_DENIED (read-only) -> EPERM, NOT_IMPLEMENTED -> ENOTSUP,
// IO_ERROR/CHUNK_CORRUPT/CHUNK_MISSING -> EIO, ABORTED/CLOSED -> ESHUTDOWN.
// Below the edge, offsets and lengths are asserted, never re-validated: every call's range lies
// inside the export's sizeBytes and is at most blockSizes.maximumBytes long (payload or not:
// the edge splits a larger TRIM/WRITE_ZEROES and answers BLOCK_STATUS/CACHE for a prefix).
//
// Durability: write() resolves when the data is in the volume's live data (visible to reads on
// every connection), durable only after flush() or when written with fua. flush() makes durable
// every write that completed before it was called, on ANY connection of the export (NBD
// multi-conn consistency).

export interface BlockSizes {
  /** Smallest I/O the export supports without read-modify-write (NBD minimum block size). */
  minimumBytes: number
  preferredBytes: number
  /** Largest single request payload. */
  maximumBytes: number
}

/** One run of NBD base:allocation block status. */
export interface AllocationExtent {
  lengthBytes: number
  /** NBD_STATE_HOLE: not allocated. */
  hole: boolean
  /** NBD_STATE_ZERO: reads as zeroes. */
  zero: boolean
}

export interface BlockExport {
  readonly name: string
  readonly description: string
  readonly sizeBytes: number
  readonly readOnly: boolean
  readonly blockSizes: BlockSizes
  readonly canTrim: boolean
  readonly canWriteZeroes: boolean
  readonly canFastZero: boolean
  /** Several connections of one client may share the export; flush on one covers all. */
  readonly multiConn: boolean

  /**
   * The bytes of [offset, offset + length). With `into` (exactly lengthBytes long) the export
   * may fill and return it instead of allocating (the NBD server passes pooled buffers); the
   * caller owns the result either way, and the export keeps no reference to `into`.
   */
  read(offsetBytes: number, lengthBytes: number, signal: AbortSignal, into?: Buffer): Promise<Buffer>
  /** `data` is lent: the export keeps no reference to it once write() settled (the NBD server reuses it). */
  write(offsetBytes: number, data: Buffer, options: { fua: boolean; signal: AbortSignal }): Promise<void>
  flush(signal: AbortSignal): Promise<void>
  trim(offsetBytes: number, lengthBytes: number, options: { fua: boolean; signal: AbortSignal }): Promise<void>
  /** noHole: keep the range allocated; fastZero: fail with NOT_IMPLEMENTED unless it is cheap. */
  writeZeroes(offsetBytes: number, lengthBytes: number, options: { fua: boolean; noHole: boolean; fastZero: boolean; signal: AbortSignal }): Promise<void>
  blockStatus(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<AllocationExtent[]>
  /** Advisory prefetch (NBD_CMD_CACHE): hydrate a lazily restored range. */
  cache(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<void>
  /** The connection is done with the export (releases this client's attachment when last). */
  release(): Promise<void>
}

export interface ExportSummary {
  name: string
  description: string
}

/** What the NBD server asks for exports; implemented by the volumes layer. */
export interface ExportProvider {
  list(): Promise<ExportSummary[]>
  /**
   * Attach `name` (a volume id, or a snapshot id read-only) for the client identified by
   * clientKey (e.g. the peer address + export: several connections of one client share an
   * attachment). A volume attached by another client -> INVALID_STATE (subject 'volume')
   * unless multi-attach; unknown name -> NOT_FOUND (subject 'export').
   */
  open(name: string, clientKey: string): Promise<BlockExport>
  /** Export metadata without attaching (NBD_OPT_INFO). */
  describe(name: string): Promise<Omit<BlockExport, 'read' | 'write' | 'flush' | 'trim' | 'writeZeroes' | 'blockStatus' | 'cache' | 'release'>>
}
