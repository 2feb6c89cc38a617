// `cairn server` runs with the V8 settings of a storage server that streams many bodies at once.
// V8 sizes its heap only when it starts (v8.setFlagsFromString is too late for the semi-space), so
// the server command re-executes itself once, in place (process.execve: same pid, same stdio),
// with the flags added to its execArgv.
//
// --max-semi-space-size=2 (MiB): every socket read and every chunk is a Buffer whose JS object
// lives in the young generation; a small semi-space scavenges often, so the Buffers that died
// young give their memory back within milliseconds instead of after a major GC, and the heap
// stays ~40 MiB instead of ~160 MiB. Measured with bench/s3-memory (docs/benchmarks.md).
//
// Never: re-execute anything but the server command; override a semi-space size the operator
// chose (in NODE_OPTIONS or on node's command line); loop (the flag is then in execArgv).
export const serverNodeFlags: readonly string[] = ['--max-semi-space-size=2']

export interface NodeProcess {
  readonly execPath: string
  readonly execArgv: readonly string[]
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string | undefined>>
  readonly execve?: ((file: string, args?: readonly string[], env?: NodeJS.ProcessEnv) => never) | undefined
}

/** The argv to re-execute the server with, or undefined when it already runs as it should. */
export function serverReexecArgs(command: string | undefined, node: NodeProcess): string[] | undefined {
  if (command !== 'server' || node.env.CAIRN_NODE_FLAGS === 'off') return undefined
  const chosen = [...node.execArgv, ...(node.env.NODE_OPTIONS ?? '').split(/\s+/)]
  if (chosen.some((flag) => flag.startsWith('--max-semi-space-size') || flag.startsWith('--semi-space-growth-factor'))) return undefined
  return [node.execPath, ...serverNodeFlags, ...node.execArgv, ...node.argv.slice(1)]
}

/** Re-execute the server with serverNodeFlags when needed (does not return then). */
export function reexecServerIfNeeded(command: string | undefined, node: NodeProcess = process): void {
  const args = serverReexecArgs(command, node)
  if (args === undefined || node.execve === undefined || process.platform === 'win32') return
  node.execve(node.execPath, args, { ...node.env })
}
