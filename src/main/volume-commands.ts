// `cairn volume ...` and `cairn snapshot ...`: block volumes through a running server's admin API
// (src/admin/volumes.ts), with the same endpoint and credential rules as the other client
// commands (client-commands.ts). Tables and attach instructions for people, --json for scripts,
// and a progress bar on a terminal while a snapshot or a hydration runs.
// Exit codes: 0 done, 1 the server said no or could not be reached, 2 usage.
import type { JsonValue } from '../admin/index.ts'
import { formatSize, isStoreError, parseSize } from '../lib/index.ts'
import { adminTarget, callAdmin, clientOptionsHelp, CommandFailed, type CommandContext } from './client-commands.ts'
import { parseFlags, type FlagOptions } from './flags.ts'
import { renderTable } from './output.ts'
import { UsageError } from './usage-error.ts'

export const volumeHelp = `Usage: cairn volume <action> [arguments] [options]

Actions:
  create --size 10GiB [--type gp3|gp2|io1|io2|st1|sc1] [--iops N] [--throughput MiBps]
         [--encrypted] [--multi-attach] [--snapshot SNAP-ID [--hydrate [--wait]]] [--description TEXT]
  list
  describe VOLUME-ID             also prints the nbd-client command and nbd:// URI to attach it
  modify VOLUME-ID [--size 20GiB] [--type T] [--iops N] [--throughput MiBps] [--multi-attach|--no-multi-attach]
  delete VOLUME-ID [--force]     --force also disconnects attached clients
  clone VOLUME-ID [--type T] [--iops N] [--throughput MiBps] [--description TEXT]
  hydrate VOLUME-ID [--wait]     fetch a restored volume's data eagerly (fast snapshot restore)

Options:
${clientOptionsHelp}
`

export const snapshotHelp = `Usage: cairn snapshot <action> [arguments] [options]

Actions:
  create VOLUME-ID [--description TEXT] [--no-wait]   waits (with progress) unless --no-wait
  list [--volume VOLUME-ID]
  describe SNAPSHOT-ID          includes the bytes only this snapshot holds
  delete SNAPSHOT-ID
  diff SNAPSHOT-A SNAPSHOT-B [--start-block N] [--max-results N]   changed 128 KiB blocks

Options:
${clientOptionsHelp}
`

const commonFlags: FlagOptions = { endpoint: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } }

type Values = Record<string, string | boolean | undefined>
type Body = { [key: string]: JsonValue }

interface Session {
  context: CommandContext
  name: string
  json: boolean
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: JsonValue): Promise<JsonValue>
}

async function session(name: string, values: Values, context: CommandContext): Promise<Session> {
  const target = await adminTarget(values, context)
  return {
    context,
    name,
    json: values.json === true,
    call: (method, path, body) => callAdmin(target, 'volume', { method, path: `/admin/v1${path}`, ...(body === undefined ? {} : { body }) }),
  }
}

function field(value: JsonValue, name: string): JsonValue | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined
}

function sizeFlag(values: Values, name: string): number | undefined {
  const text = values[name] as string | undefined
  if (text === undefined) return undefined
  try {
    return parseSize(text)
  } catch (error) {
    if (isStoreError(error)) throw new UsageError(`--${name}: ${error.message}`)
    throw error
  }
}

function integerFlag(values: Values, name: string): number | undefined {
  const text = values[name] as string | undefined
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got "${text}"`)
  return Number(text)
}

/** Drop undefined fields: the API rejects nothing for absence, but JSON has no undefined. */
function compact(body: Record<string, JsonValue | undefined>): Body {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)) as Body
}

function onePositional(positionals: string[], what: string, count = 1): string[] {
  if (positionals.length !== count) throw new UsageError(`expected ${count === 1 ? `one ${what}` : `${count} ${what}s`}, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  return positionals
}

function isTerminal(stream: { write(text: string): unknown }): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true
}

/** Poll until done(body) says so, drawing a progress bar on a terminal. */
async function waitWithProgress(s: Session, path: string, label: string, percentOf: (body: JsonValue) => number, done: (body: JsonValue) => boolean): Promise<JsonValue> {
  const bar = isTerminal(s.context.stderr) && !s.json
  for (;;) {
    const body = await s.call('GET', path)
    const percent = Math.max(0, Math.min(100, percentOf(body)))
    if (bar) {
      const width = 30
      const filled = Math.round((percent / 100) * width)
      s.context.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent.toFixed(1).padStart(5)}%`)
    }
    if (done(body)) {
      if (bar) s.context.stderr.write('\n')
      return body
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n'
}

function text(value: JsonValue | undefined): string {
  return value === null || value === undefined ? '-' : String(value)
}

function bytes(value: JsonValue | undefined): string {
  return typeof value === 'number' ? formatSize(value) : '-'
}

/** The nbd URI of a listener, from /info when the volume answer has no attach hints. */
async function attachLines(s: Session, volume: JsonValue): Promise<string> {
  const id = text(field(volume, 'volumeId'))
  let attach = field(volume, 'attach')
  if (attach === null || attach === undefined) {
    const listener = field(field(await s.call('GET', '/info'), 'listeners') ?? null, 'nbd')
    const match = typeof listener === 'string' ? /^nbd:\/\/(\[[^\]]+\]|[^:/]+):(\d+)/.exec(listener) : null
    if (match === null) return `Attach: the server has no NBD listener reported; export name ${id}\n`
    const host = match[1]!.replace(/^\[|\]$/g, '')
    attach = { nbdUri: `nbd://${match[1]}:${match[2]}/${id}`, nbdClientCommand: `sudo nbd-client ${host} ${match[2]} /dev/nbd0 -N ${id} -b 4096` }
  }
  return `\nAttach it over NBD:\n  ${text(field(attach, 'nbdClientCommand'))}\n  URI: ${text(field(attach, 'nbdUri'))}\n`
}

async function showVolume(s: Session, volume: JsonValue, heading?: string): Promise<void> {
  if (s.json) {
    s.context.stdout.write(`${JSON.stringify(volume, null, 2)}\n`)
    return
  }
  const { attach: _attach, ...rest } = volume as { [key: string]: JsonValue }
  s.context.stdout.write(`${heading === undefined ? '' : `${heading}\n`}${renderTable(rest)}${await attachLines(s, volume)}`)
}

function hydrationPercent(body: JsonValue): number {
  const percent = field(field(body, 'hydration') ?? null, 'percent')
  return typeof percent === 'number' ? percent : 100
}

function hydrated(body: JsonValue): boolean {
  const state = field(field(body, 'hydration') ?? null, 'state')
  return state === undefined || state === null || state === 'hydrated'
}

type Action = (positionals: string[], values: Values, s: Session) => Promise<void>

const volumeActions: Record<string, Action> = {
  async create(positionals, values, s) {
    if (values.size === undefined && values.snapshot === undefined) throw new UsageError('--size is required (or --snapshot to restore one)')
    const volume = await s.call('POST', '/volumes', compact({
      size: sizeFlag(values, 'size'),
      type: values.type as string | undefined,
      iops: integerFlag(values, 'iops'),
      throughput: integerFlag(values, 'throughput'),
      encrypted: values.encrypted as boolean | undefined,
      multiAttach: values['multi-attach'] as boolean | undefined,
      snapshotId: values.snapshot as string | undefined,
      eagerHydration: values.hydrate as boolean | undefined,
      description: values.description as string | undefined,
    }))
    const id = text(field(volume, 'volumeId'))
    const final = values.wait === true ? await waitWithProgress(s, `/volumes/${id}`, `hydrating ${id}`, hydrationPercent, hydrated) : volume
    return showVolume(s, { ...(final as Body), attach: field(volume, 'attach') ?? null }, s.json ? undefined : `created ${id}`)
  },
  async list(positionals, values, s) {
    const list = field(await s.call('GET', '/volumes'), 'volumes')
    const volumes = Array.isArray(list) ? list : []
    if (s.json) return void s.context.stdout.write(`${JSON.stringify(volumes, null, 2)}\n`)
    if (volumes.length === 0) return void s.context.stdout.write('no volumes\n')
    const rows = [['VOLUME ID', 'SIZE', 'TYPE', 'IOPS', 'MIB/S', 'STATE', 'ENCRYPTED', 'SOURCE SNAPSHOT']]
    for (const v of volumes) {
      const performance = field(v, 'performance') ?? null
      rows.push([text(field(v, 'volumeId')), bytes(field(v, 'sizeBytes')), text(field(v, 'type')), text(field(performance, 'baselineIops')), text(field(performance, 'baselineThroughputMiBps')), text(field(v, 'state')), text(field(v, 'encrypted')), text(field(v, 'sourceSnapshotId'))])
    }
    return void s.context.stdout.write(columns(rows))
  },
  async describe(positionals, values, s) {
    const [id] = onePositional(positionals, 'volume id')
    return showVolume(s, await s.call('GET', `/volumes/${encodeURIComponent(id!)}`))
  },
  async modify(positionals, values, s) {
    const [id] = onePositional(positionals, 'volume id')
    const multiAttach = values['multi-attach'] === true ? true : values['no-multi-attach'] === true ? false : undefined
    const body = compact({ size: sizeFlag(values, 'size'), type: values.type as string | undefined, iops: integerFlag(values, 'iops'), throughput: integerFlag(values, 'throughput'), multiAttach, description: values.description as string | undefined })
    if (Object.keys(body).length === 0) throw new UsageError('say what to change: --size, --type, --iops, --throughput, --multi-attach, --no-multi-attach or --description')
    return showVolume(s, await s.call('PATCH', `/volumes/${encodeURIComponent(id!)}`, body), s.json ? undefined : `modified ${id} (connected clients see a new size on their next connection)`)
  },
  async delete(positionals, values, s) {
    const [id] = onePositional(positionals, 'volume id')
    await s.call('DELETE', `/volumes/${encodeURIComponent(id!)}${values.force === true ? '?force=true' : ''}`)
    return void s.context.stdout.write(s.json ? `${JSON.stringify({ deleted: id })}\n` : `deleted ${id}\n`)
  },
  async clone(positionals, values, s) {
    const [id] = onePositional(positionals, 'volume id')
    const body = compact({ type: values.type as string | undefined, iops: integerFlag(values, 'iops'), throughput: integerFlag(values, 'throughput'), description: values.description as string | undefined })
    const clone = await s.call('POST', `/volumes/${encodeURIComponent(id!)}/clone`, body)
    return showVolume(s, clone, s.json ? undefined : `cloned ${id} into ${text(field(clone, 'volumeId'))}`)
  },
  async hydrate(positionals, values, s) {
    const [id] = onePositional(positionals, 'volume id')
    const started = await s.call('POST', `/volumes/${encodeURIComponent(id!)}/hydrate`)
    const final = values.wait === true ? await waitWithProgress(s, `/volumes/${encodeURIComponent(id!)}`, `hydrating ${id}`, hydrationPercent, hydrated) : started
    return showVolume(s, final)
  },
}

const volumeFlags: FlagOptions = {
  ...commonFlags,
  size: { type: 'string' },
  type: { type: 'string' },
  iops: { type: 'string' },
  throughput: { type: 'string' },
  encrypted: { type: 'boolean' },
  'multi-attach': { type: 'boolean' },
  'no-multi-attach': { type: 'boolean' },
  snapshot: { type: 'string' },
  hydrate: { type: 'boolean' },
  wait: { type: 'boolean' },
  description: { type: 'string' },
  force: { type: 'boolean' },
}

function snapshotRows(snapshots: JsonValue[]): string {
  const rows = [['SNAPSHOT ID', 'VOLUME ID', 'SIZE', 'STATE', 'PROGRESS', 'CHANGED', 'STORED', 'STARTED', 'DESCRIPTION']]
  for (const snapshot of snapshots) {
    rows.push([
      text(field(snapshot, 'snapshotId')),
      text(field(snapshot, 'volumeId')),
      bytes(field(snapshot, 'volumeSizeBytes')),
      text(field(snapshot, 'state')),
      `${text(field(snapshot, 'progressPercent'))}%`,
      bytes(field(snapshot, 'changedBytes')),
      bytes(field(snapshot, 'storedBytes')),
      text(field(snapshot, 'startTime')),
      text(field(snapshot, 'description')),
    ])
  }
  return columns(rows)
}

function showSnapshot(s: Session, snapshot: JsonValue, heading?: string): void {
  s.context.stdout.write(s.json ? `${JSON.stringify(snapshot, null, 2)}\n` : `${heading === undefined ? '' : `${heading}\n`}${renderTable(snapshot)}`)
}

const snapshotActions: Record<string, Action> = {
  async create(positionals, values, s) {
    const [volumeId] = onePositional(positionals, 'volume id')
    const started = await s.call('POST', `/volumes/${encodeURIComponent(volumeId!)}/snapshots`, compact({ description: values.description as string | undefined }))
    const id = text(field(started, 'snapshotId'))
    if (values['no-wait'] === true) return showSnapshot(s, started, `started ${id}`)
    const percentOf = (body: JsonValue): number => (typeof field(body, 'progressPercent') === 'number' ? (field(body, 'progressPercent') as number) : 0)
    const final = await waitWithProgress(s, `/snapshots/${id}`, `snapshot ${id}`, percentOf, (body) => field(body, 'state') !== 'pending')
    if (field(final, 'state') === 'error') throw new CommandFailed(`snapshot ${id} failed: ${text(field(final, 'error'))}`)
    return showSnapshot(s, final, `created ${id}`)
  },
  async list(positionals, values, s) {
    const query = values.volume === undefined ? '' : `?volumeId=${encodeURIComponent(values.volume as string)}`
    const list = field(await s.call('GET', `/snapshots${query}`), 'snapshots')
    const snapshots = Array.isArray(list) ? list : []
    if (s.json) return void s.context.stdout.write(`${JSON.stringify(snapshots, null, 2)}\n`)
    return void s.context.stdout.write(snapshots.length === 0 ? 'no snapshots\n' : snapshotRows(snapshots))
  },
  async describe(positionals, values, s) {
    const [id] = onePositional(positionals, 'snapshot id')
    return showSnapshot(s, await s.call('GET', `/snapshots/${encodeURIComponent(id!)}`))
  },
  async delete(positionals, values, s) {
    const [id] = onePositional(positionals, 'snapshot id')
    await s.call('DELETE', `/snapshots/${encodeURIComponent(id!)}`)
    return void s.context.stdout.write(s.json ? `${JSON.stringify({ deleted: id })}\n` : `deleted ${id}\n`)
  },
  async diff(positionals, values, s) {
    const [first, second] = onePositional(positionals, 'snapshot id', 2)
    const query = [['startBlockIndex', integerFlag(values, 'start-block')], ['maxResults', integerFlag(values, 'max-results')]]
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${name}=${value}`)
      .join('&')
    const diff = await s.call('GET', `/snapshots/${encodeURIComponent(first!)}/changed-blocks/${encodeURIComponent(second!)}${query === '' ? '' : `?${query}`}`)
    if (s.json) return void s.context.stdout.write(`${JSON.stringify(diff, null, 2)}\n`)
    const ranges = field(diff, 'ranges')
    const lines = (Array.isArray(ranges) ? ranges : []).map((range) => `  offset ${text(field(range, 'offsetBytes'))}  length ${text(field(range, 'lengthBytes'))} (${bytes(field(range, 'lengthBytes'))})`)
    const count = field(diff, 'changedBlocks')
    const next = field(diff, 'nextBlockIndex')
    s.context.stdout.write(
      `${text(count)} changed blocks of ${bytes(field(diff, 'blockSizeBytes'))} between ${first} and ${second}\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}` +
        (next === null || next === undefined ? '' : `more: run again with --start-block ${text(next)}\n`),
    )
    return
  },
}

const snapshotFlags: FlagOptions = {
  ...commonFlags,
  description: { type: 'string' },
  'no-wait': { type: 'boolean' },
  volume: { type: 'string' },
  'start-block': { type: 'string' },
  'max-results': { type: 'string' },
}

/** `cairn volume ...` / `cairn snapshot ...`; help and usage errors are the caller's (cli.ts). */
export async function runVolumeCommand(command: 'volume' | 'snapshot', args: readonly string[], context: CommandContext): Promise<number> {
  const [action, ...rest] = args
  const help = command === 'volume' ? volumeHelp : snapshotHelp
  if (action === undefined || action === 'help' || action === '--help' || action === '-h' || rest.includes('--help') || rest.includes('-h')) {
    ;(action === undefined ? context.stderr : context.stdout).write(help)
    return action === undefined ? 2 : 0
  }
  const actions = Object.keys(command === 'volume' ? volumeActions : snapshotActions)
  if (!actions.includes(action)) throw new UsageError(`unknown action "${action}" (one of: ${actions.join(', ')})`, { hint: `run \`cairn help ${command}\`` })
  const { values, positionals } = parseFlags(rest, command === 'volume' ? volumeFlags : snapshotFlags, { positionals: true, hint: `run \`cairn help ${command}\`` })
  const s = await session(`${command} ${action}`, values, context)
  try {
    await (command === 'volume' ? volumeActions : snapshotActions)[action]!(positionals, values, s)
    return 0
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error
    context.stderr.write(`cairn ${command} ${action}: ${error.message}\n`)
    return 1
  }
}
