// host:port listener addresses. IPv6 hosts go in brackets ("[::1]:9000"); hostnames, IPv4 and
// bracketed IPv6 are accepted; port 0 means "any free port" (tests use it).
import { isIP, isIPv6 } from 'node:net'
import { UsageError } from './usage-error.ts'

export interface Address {
  /** IPv4, IPv6 (without brackets) or a hostname. */
  readonly host: string
  /** 0..65535; 0 asks the OS for a free port. */
  readonly port: number
}

const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/** Parse "HOST:PORT"; `origin` names the flag/env/file key in the error message. */
export function parseAddress(text: string, origin: string): Address {
  const example = 'expected HOST:PORT, e.g. 127.0.0.1:9000, [::1]:9000 or localhost:9000'
  const trimmed = text.trim()
  let host: string
  let portText: string
  if (trimmed.startsWith('[')) {
    const match = /^\[([^\]]*)\]:(.*)$/.exec(trimmed)
    if (!match) throw new UsageError(`${origin}: "${text}" is not an address; ${example}`)
    host = match[1] ?? ''
    portText = match[2] ?? ''
    if (!isIPv6(host)) throw new UsageError(`${origin}: "${host}" in brackets is not an IPv6 address`)
  } else {
    const colon = trimmed.lastIndexOf(':')
    if (colon < 0) throw new UsageError(`${origin}: "${text}" has no port; ${example}`)
    host = trimmed.slice(0, colon)
    portText = trimmed.slice(colon + 1)
    if (host.includes(':')) {
      throw new UsageError(`${origin}: "${text}": put IPv6 addresses in brackets, e.g. [${host}]:${portText}`)
    }
    if (isIP(host) === 0 && !hostnamePattern.test(host)) {
      throw new UsageError(`${origin}: "${host}" is not an IP address or hostname; ${example}`)
    }
  }
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port > 65535) {
    throw new UsageError(`${origin}: port "${portText}" must be a number from 0 to 65535`)
  }
  return { host, port }
}

export function formatAddress(address: Address): string {
  return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

export function addressUrl(address: Address, scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://${formatAddress(address)}`
}

const wildcardHosts = new Set(['0.0.0.0', '::'])

/** Two listeners cannot share a fixed port on the same host or when either is a wildcard. */
export function addressesConflict(a: Address, b: Address): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false
  return a.host === b.host || wildcardHosts.has(a.host) || wildcardHosts.has(b.host)
}
