// HTTP Basic authentication with the root credentials for /admin/v1/*.
// Compares digests with timingSafeEqual, so neither the length nor the content of the
// expected key or secret leaks through response timing. Never logs what the client sent.
import { createHash, timingSafeEqual } from 'node:crypto'

export interface AdminCredentials {
  readonly accessKey: string
  readonly secretKey: string
}

export function isAuthorized(header: string | undefined, expected: AdminCredentials): boolean {
  const given = parseBasic(header)
  // Compare both fields even when the first differs (no early exit on the user name).
  const userMatches = sameSecret(given?.user ?? '', expected.accessKey)
  const passwordMatches = sameSecret(given?.password ?? '', expected.secretKey)
  return given !== undefined && userMatches && passwordMatches
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '')
  if (!match?.[1]) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/** The Authorization header value a client sends. */
export function basicAuthorization(credentials: AdminCredentials): string {
  return `Basic ${Buffer.from(`${credentials.accessKey}:${credentials.secretKey}`, 'utf8').toString('base64')}`
}
