// `cairn server` runs with the V8 settings of a storage server that streams many bodies at once.
// V8 sizes its heap only when it starts (v8.setFlagsFromString is too late for the semi-space), so
// the server command re-executes itself once, in place (process.execve: same pid, same stdio),
// with the flags added to its execArgv and the allocator settings below added to its environment.
//
// --max-semi-space-size=2 (MiB): every socket read and every chunk is a Buffer whose JS object
// lives in the young generation; a small semi-space scavenges often, so the Buffers that died
// young give their memory back within milliseconds instead of after a major GC, and the heap
// stays ~40 MiB instead of ~160 MiB. Measured with bench/s3-memory (docs/benchmarks.md).
//
// Never: re-execute anything but the server command; override a semi-space size the operator
// chose (in NODE_OPTIONS or on node's command line) or an allocator variable already set; loop
// (the second start finds its flag and variables in place).
export const serverNodeFlags: readonly string[] = ['--max-semi-space-size=2']

/**
 * glibc malloc: allocations of 128 KiB and more (chunks, frames, carries) are mmapped and go back
 * to the kernel when freed. By default glibc raises that threshold as large blocks are freed (up
 * to 32 MiB), after which freed chunk buffers stay in its arenas: the RSS after one round of 64
 * uploads then stayed at ~465 MiB idle and the next round's peak rose by ~60 MiB. Other C
 * libraries ignore the variable.
 */
export const serverEnvironment: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) }

export interface NodeProcess {
  readonly execPath: string
  readonly execArgv: readonly string[]
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string | undefined>>
  readonly execve?: ((file: string, args?: readonly string[], env?: NodeJS.ProcessEnv) => never) | undefined
}

export interface Reexec {
  readonly args: string[]
  readonly env: Record<string, string | undefined>
}

/** How to re-execute the server, or undefined when it already runs as it should. */
export function serverReexec(command: string | undefined, node: NodeProcess): Reexec | undefined {
  if (command !== 'server' || node.env.CAIRN_NODE_FLAGS === 'off') return undefined
  const chosen = [...node.execArgv, ...(node.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const flags = chosen.some((flag) => flag.startsWith('--max-semi-space-size') || flag.startsWith('--semi-space-growth-factor')) ? [] : serverNodeFlags
  const missing = Object.entries(serverEnvironment).filter(([name]) => node.env[name] === undefined)
  if (flags.length === 0 && missing.length === 0) return undefined
  return { args: [node.execPath, ...flags, ...node.execArgv, ...node.argv.slice(1)], env: { ...node.env, ...Object.fromEntries(missing) } }
}

/** Re-execute the server with serverNodeFlags and serverEnvironment when needed (does not return then). */
export function reexecServerIfNeeded(command: string | undefined, node: NodeProcess = process): void {
  const reexec = serverReexec(command, node)
  if (reexec === undefined || node.execve === undefined || process.platform === 'win32') return
  node.execve(node.execPath, reexec.args, reexec.env)
}
