// NFSv4.0 client identity and leases: SETCLIENTID, SETCLIENTID_CONFIRM, RENEW
// (RFC 7530 sections 16.33, 16.34, 16.29; simplified: principals are not compared, since AUTH_SYS
// cannot prove them, and the callback is recorded nowhere because we never call back).
import { nfsLimits } from '../../lib/index.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { op, status, verifierBytes } from './constants.ts'
import { ok, type CompoundContext, type OpResult } from './context.ts'
import { nfsError } from './errors.ts'
import type { OpTable } from './compound.ts'

async function setclientid(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const verifier = Buffer.from(args.opaqueFixed(verifierBytes, 'verifier'))
  const ownerId = Buffer.from(args.opaque(nfsLimits.nfsOpaqueMaxBytes, 'client id'))
  args.u32('cb_program')
  args.string(nfsLimits.nfsOpaqueMaxBytes, 'r_netid')
  args.string(nfsLimits.nfsOpaqueMaxBytes, 'r_addr')
  args.u32('callback_ident')
  const state = ctx.server.state
  const { confirmed, unconfirmed } = state.clientsOf(ownerId, 0)
  const confirmVerifier = ctx.server.random.bytes(verifierBytes)
  let clientId: bigint
  if (confirmed !== undefined && confirmed.verifier.equals(verifier)) {
    // The same client instance again (a callback update): confirmed later with the new verifier.
    confirmed.pendingConfirmVerifier = confirmVerifier
    clientId = confirmed.clientId
  } else {
    if (unconfirmed !== undefined) state.removeClient(unconfirmed)
    clientId = state.newClient(ownerId, verifier, 0, confirmVerifier).clientId
  }
  return ok(new XdrWriter().u64(clientId).opaqueFixed(confirmVerifier))
}

async function setclientidConfirm(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const clientId = args.u64('clientid')
  const verifier = Buffer.from(args.opaqueFixed(verifierBytes, 'setclientid_confirm'))
  const state = ctx.server.state
  const client = state.client(clientId)
  if (client.confirmed) {
    if (client.pendingConfirmVerifier?.equals(verifier)) {
      client.confirmVerifier = client.pendingConfirmVerifier
      client.pendingConfirmVerifier = undefined
    } else if (!client.confirmVerifier.equals(verifier)) {
      nfsError(status.STALE_CLIENTID, 'wrong confirm verifier')
    }
    state.renew(client)
    return ok()
  }
  if (!client.confirmVerifier.equals(verifier)) nfsError(status.STALE_CLIENTID, 'wrong confirm verifier')
  state.confirm(client)
  await ctx.server.grace.confirmed() // recorded before the client may take state
  return ok()
}

async function renew(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const client = ctx.server.state.client(args.u64('clientid'))
  if (!client.confirmed) nfsError(status.STALE_CLIENTID, 'client not confirmed')
  ctx.server.state.renew(client)
  return ok()
}

export const clientOps: OpTable = {
  [op.SETCLIENTID]: { run: setclientid, minorVersions: [0] },
  [op.SETCLIENTID_CONFIRM]: { run: setclientidConfirm, minorVersions: [0] },
  [op.RENEW]: { run: renew, minorVersions: [0] },
}
