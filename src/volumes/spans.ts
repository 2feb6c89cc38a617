// A request's byte range split at extent boundaries.
import { volumeLimits } from '../lib/index.ts'

const extentBytes = volumeLimits.extentBytes

export interface Span {
  extent: number
  /** Offset of the span inside the extent, and its length. */
  startBytes: number
  lengthBytes: number
  /** Offset of the span inside the request. */
  requestOffsetBytes: number
}

/** Split [offset, offset + length) into per-extent spans, ascending. */
export function spansOf(offsetBytes: number, lengthBytes: number): Span[] {
  const spans: Span[] = []
  let at = offsetBytes
  const end = offsetBytes + lengthBytes
  while (at < end) {
    const extent = Math.floor(at / extentBytes)
    const startBytes = at - extent * extentBytes
    const length = Math.min(extentBytes - startBytes, end - at)
    spans.push({ extent, startBytes, lengthBytes: length, requestOffsetBytes: at - offsetBytes })
    at += length
  }
  return spans
}

export const isFullExtent = (span: Span): boolean => span.lengthBytes === extentBytes
