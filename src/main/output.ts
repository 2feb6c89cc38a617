// Output for people: JSON results flattened into an aligned two-column table
// ("listeners.admin   http://127.0.0.1:9001"). Numbers under keys ending in Bytes are shown
// with units; everything else as is. Scripts use --json and never parse this.
import { formatSize } from '../lib/index.ts'
import type { JsonValue } from '../admin/index.ts'

export function renderTable(value: JsonValue): string {
  const rows: Array<[string, string]> = []
  flatten('', value, rows)
  const width = Math.max(...rows.map(([key]) => key.length))
  return rows.map(([key, text]) => (key === '' ? text : `${key.padEnd(width)}  ${text}`)).join('\n') + '\n'
}

function flatten(prefix: string, value: JsonValue, rows: Array<[string, string]>): void {
  if (Array.isArray(value)) {
    if (value.length === 0) rows.push([prefix, '(none)'])
    value.forEach((item, index) => flatten(`${prefix}[${index}]`, item, rows))
    return
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) rows.push([prefix, '(none)'])
    for (const [key, item] of entries) flatten(prefix === '' ? key : `${prefix}.${key}`, item, rows)
    return
  }
  rows.push([prefix, cell(prefix, value)])
}

function cell(key: string, value: string | number | boolean | null): string {
  if (value === null) return '-'
  if (typeof value === 'number' && /Bytes$/.test(key)) return `${formatSize(value)} (${value})`
  return String(value)
}
