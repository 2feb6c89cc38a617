// Fixed newstyle option haggling: from the client flags to NBD_OPT_GO / NBD_OPT_EXPORT_NAME
// (a Session for the transmission phase) or to NBD_OPT_ABORT / disconnect (undefined).
//
// Rules kept here (NBD protocol, "Option types"): every option but EXPORT_NAME gets a reply;
// unknown options get NBD_REP_ERR_UNSUP and the next one is parsed normally; syntactically bad
// option data gets NBD_REP_ERR_INVALID; STARTTLS drops structured replies and meta contexts;
// BLOCK_STATUS is allowed only if the final SET_META_CONTEXT named the export entered. Garbage
// (bad magic, unknown client flags, oversized option data) is a hard disconnect, never a crash.
// A StoreError from the provider becomes an option error reply (errors.ts), never a disconnect.
import { isStoreError, type StoreError } from '../lib/index.ts'
import type { BlockExport } from '../volumes/api.ts'
import { ProtocolError, type Connection } from './connection.ts'
import { optionErrorFor } from './errors.ts'
import {
  baseAllocationContext, clientFlagsBytes, decodeInfoRequest, decodeMetaContextRequest, decodeOptionHeader, decodeString,
  encodeExportNameReply, encodeInfoBlockSize, encodeInfoExport, encodeInfoString, encodeMetaContextReplyData,
  encodeOptionReply, encodeServerReplyData, isViolation,
  NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_INFO_DESCRIPTION, NBD_INFO_NAME, NBD_OPT_ABORT, NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_LIST, NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT, NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NBD_REP_ERR_INVALID, NBD_REP_ERR_SHUTDOWN, NBD_REP_ERR_TLS_REQD, NBD_REP_ERR_UNSUP,
  NBD_REP_INFO, NBD_REP_META_CONTEXT, NBD_REP_SERVER, optionHeaderBytes, optionName,
} from './protocol.ts'
import { advertisedBlockSizes, transmissionFlagsFor, type ExportInfo, type Session } from './session.ts'

/** The id SET_META_CONTEXT gives base:allocation (the only context; ids are opaque to clients). */
const allocationContextId = 1

interface HandshakeState {
  noZeroes: boolean
  fixedNewstyle: boolean
  structuredReplies: boolean
  /** Export named by the last SET_META_CONTEXT, and whether it selected base:allocation. */
  metaContext: { exportName: string; allocation: boolean } | undefined
}

type OptionOutcome = 'continue' | 'abort' | Session

export async function negotiate(connection: Connection): Promise<Session | undefined> {
  const { reader, options } = connection
  const clientFlags = (await reader.readExactly(clientFlagsBytes)).readUInt32BE(0)
  if ((clientFlags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) !== 0) throw new ProtocolError(`unknown client flags 0x${clientFlags.toString(16)}`)
  const state: HandshakeState = {
    noZeroes: (clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0,
    fixedNewstyle: (clientFlags & NBD_FLAG_C_FIXED_NEWSTYLE) !== 0,
    structuredReplies: false,
    metaContext: undefined,
  }
  // TLS needs fixed newstyle (spec); a server that requires TLS cannot serve such a client.
  if (options.tls?.required === true && !state.fixedNewstyle) throw new ProtocolError('TLS is required but the client does not speak fixed newstyle')
  for (;;) {
    const header = decodeOptionHeader(await reader.readExactly(optionHeaderBytes))
    if (isViolation(header)) throw new ProtocolError(header.violation)
    if (header.lengthBytes > options.limits.optionDataMaxBytes) throw new ProtocolError(`${optionName(header.option)} data of ${header.lengthBytes} bytes is too long`)
    const data = await reader.readExactly(header.lengthBytes)
    connection.logger.debug({ client: options.clientKey, option: optionName(header.option), lengthBytes: header.lengthBytes }, 'NBD option')
    const outcome = await handleOption(connection, state, header.option, data)
    if (outcome === 'abort') return undefined
    if (outcome !== 'continue') return outcome
  }
}

async function handleOption(connection: Connection, state: HandshakeState, option: number, data: Buffer): Promise<OptionOutcome> {
  const reply = (type: number, body?: Buffer): void => connection.send([encodeOptionReply(option, type, body)])
  const refuse = (type: number, message: string): 'continue' => {
    reply(type, Buffer.from(message, 'utf8'))
    return 'continue'
  }
  if (option === NBD_OPT_ABORT) {
    reply(NBD_REP_ACK)
    return 'abort'
  }
  if (connection.closing) {
    if (option === NBD_OPT_EXPORT_NAME) throw new ProtocolError('server shutting down')
    return refuse(NBD_REP_ERR_SHUTDOWN, 'the server is shutting down')
  }
  if (connection.options.tls?.required === true && !connection.tlsActive && option !== NBD_OPT_STARTTLS) {
    if (option === NBD_OPT_EXPORT_NAME) throw new ProtocolError('NBD_OPT_EXPORT_NAME without TLS on a TLS-only server')
    return refuse(NBD_REP_ERR_TLS_REQD, 'this server requires TLS: send NBD_OPT_STARTTLS first')
  }
  switch (option) {
    case NBD_OPT_EXPORT_NAME:
      return exportName(connection, state, data)
    case NBD_OPT_LIST:
      return list(connection, option, data, refuse)
    case NBD_OPT_STARTTLS:
      return startTls(connection, state, data, reply, refuse)
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
      return infoOrGo(connection, state, option, data, refuse)
    case NBD_OPT_STRUCTURED_REPLY:
      if (data.length !== 0) return refuse(NBD_REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data')
      state.structuredReplies = true
      reply(NBD_REP_ACK)
      return 'continue'
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
      return metaContext(connection, state, option, data, refuse)
    default:
      return refuse(NBD_REP_ERR_UNSUP, `${optionName(option)} is not supported`)
  }
}

type Refuse = (type: number, message: string) => 'continue'

/** NBD_OPT_EXPORT_NAME cannot fail politely: any problem is a hard disconnect (spec). */
async function exportName(connection: Connection, state: HandshakeState, data: Buffer): Promise<Session> {
  const name = decodeString(data, connection.options.limits.stringMaxBytes)
  if (isViolation(name)) throw new ProtocolError(`NBD_OPT_EXPORT_NAME: ${name.violation}`)
  let blockExport: BlockExport
  try {
    blockExport = await connection.options.provider.open(name, connection.options.clientKey)
  } catch (error) {
    if (!isStoreError(error)) throw error
    throw new ProtocolError(`NBD_OPT_EXPORT_NAME ${JSON.stringify(name)}: ${error.message}`)
  }
  const session = await releaseOnBug(blockExport, () => sessionFor(connection, state, name, blockExport))
  connection.send([encodeExportNameReply(blockExport.sizeBytes, session.transmissionFlags, state.noZeroes)])
  logAttached(connection, session)
  return session
}

/** Build the session; if that fails (a bug: bad block sizes), the attachment is released first. */
async function releaseOnBug<T>(blockExport: BlockExport, build: () => T): Promise<T> {
  try {
    return build()
  } catch (error) {
    await blockExport.release()
    throw error
  }
}

async function list(connection: Connection, option: number, data: Buffer, refuse: Refuse): Promise<'continue'> {
  if (data.length !== 0) return refuse(NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data')
  let exports
  try {
    exports = await connection.options.provider.list()
  } catch (error) {
    return refuseStoreError(error, refuse)
  }
  for (const summary of exports) connection.send([encodeOptionReply(option, NBD_REP_SERVER, encodeServerReplyData(summary.name, summary.description))])
  connection.send([encodeOptionReply(option, NBD_REP_ACK)])
  return 'continue'
}

async function startTls(connection: Connection, state: HandshakeState, data: Buffer, reply: (type: number) => void, refuse: Refuse): Promise<'continue'> {
  if (data.length !== 0) return refuse(NBD_REP_ERR_INVALID, 'NBD_OPT_STARTTLS takes no data')
  // NOTLS mode (no certificate, or a client without fixed newstyle): "not supported", like nbdkit.
  if (connection.options.tls === undefined || !state.fixedNewstyle) return refuse(NBD_REP_ERR_UNSUP, 'TLS is not configured on this server')
  if (connection.tlsActive) return refuse(NBD_REP_ERR_INVALID, 'TLS is already active')
  reply(NBD_REP_ACK)
  await connection.upgradeToTls()
  // Nothing negotiated in plaintext survives the upgrade (spec).
  state.structuredReplies = false
  state.metaContext = undefined
  connection.logger.debug({ client: connection.options.clientKey }, 'NBD connection upgraded to TLS')
  return 'continue'
}

async function infoOrGo(connection: Connection, state: HandshakeState, option: number, data: Buffer, refuse: Refuse): Promise<'continue' | Session> {
  const request = decodeInfoRequest(data, connection.options.limits.stringMaxBytes)
  if (isViolation(request)) return refuse(NBD_REP_ERR_INVALID, request.violation)
  const { provider, clientKey } = connection.options
  let info: ExportInfo
  let opened: BlockExport | undefined
  try {
    if (option === NBD_OPT_GO) info = opened = await provider.open(request.exportName, clientKey)
    else info = await provider.describe(request.exportName)
  } catch (error) {
    return refuseStoreError(error, refuse)
  }
  const session = opened === undefined ? undefined : await releaseOnBug(opened, () => sessionFor(connection, state, request.exportName, opened))
  const blockSizes = session?.blockSizes ?? advertisedBlockSizes(info, connection.options.limits)
  const flags = session?.transmissionFlags ?? transmissionFlagsFor(info, state.structuredReplies)
  const infos = [encodeInfoExport(info.sizeBytes, flags)]
  if (request.infoTypes.includes(NBD_INFO_NAME)) infos.push(encodeInfoString(NBD_INFO_NAME, info.name))
  if (request.infoTypes.includes(NBD_INFO_DESCRIPTION) && info.description !== '') infos.push(encodeInfoString(NBD_INFO_DESCRIPTION, info.description))
  // Always sent: clients that did not ask still learn the constraints the edge enforces.
  infos.push(encodeInfoBlockSize(blockSizes.minimumBytes, blockSizes.preferredBytes, blockSizes.maximumBytes))
  connection.send([...infos.map((body) => encodeOptionReply(option, NBD_REP_INFO, body)), encodeOptionReply(option, NBD_REP_ACK)])
  if (session === undefined) return 'continue'
  logAttached(connection, session)
  return session
}

async function metaContext(connection: Connection, state: HandshakeState, option: number, data: Buffer, refuse: Refuse): Promise<'continue'> {
  // SET replaces the previous selection even when it fails (spec).
  if (option === NBD_OPT_SET_META_CONTEXT) state.metaContext = undefined
  if (!state.structuredReplies) return refuse(NBD_REP_ERR_INVALID, 'negotiate NBD_OPT_STRUCTURED_REPLY first')
  const request = decodeMetaContextRequest(data, connection.options.limits.stringMaxBytes)
  if (isViolation(request)) return refuse(NBD_REP_ERR_INVALID, request.violation)
  for (const query of request.queries) {
    if (!query.includes(':')) return refuse(NBD_REP_ERR_INVALID, `meta context query ${JSON.stringify(query)} has no namespace`)
  }
  try {
    await connection.options.provider.describe(request.exportName)
  } catch (error) {
    return refuseStoreError(error, refuse)
  }
  const listing = option === NBD_OPT_LIST_META_CONTEXT
  // base:allocation is our only context. LIST: no query, "base:" and "base:allocation" match it;
  // SET: only "base:allocation" selects it. Unknown namespaces and leaf names are ignored.
  const selected = request.queries.some((query) => query === baseAllocationContext || (listing && query === 'base:')) || (listing && request.queries.length === 0)
  if (selected) connection.send([encodeOptionReply(option, NBD_REP_META_CONTEXT, encodeMetaContextReplyData(listing ? 0 : allocationContextId, baseAllocationContext))])
  connection.send([encodeOptionReply(option, NBD_REP_ACK)])
  if (!listing) state.metaContext = { exportName: request.exportName, allocation: selected }
  return 'continue'
}

function sessionFor(connection: Connection, state: HandshakeState, name: string, blockExport: BlockExport): Session {
  const metaContext = state.metaContext
  return {
    exportName: name,
    blockExport,
    structuredReplies: state.structuredReplies,
    allocationContextId: metaContext !== undefined && metaContext.allocation && metaContext.exportName === name ? allocationContextId : undefined,
    transmissionFlags: transmissionFlagsFor(blockExport, state.structuredReplies),
    blockSizes: advertisedBlockSizes(blockExport, connection.options.limits),
  }
}

function refuseStoreError(error: unknown, refuse: Refuse): 'continue' {
  if (!isStoreError(error)) throw error
  return refuse(optionErrorFor((error as StoreError).code), error.message)
}

function logAttached(connection: Connection, session: Session): void {
  connection.logger.info(
    { client: connection.options.clientKey, export: session.exportName, sizeBytes: session.blockExport.sizeBytes, structuredReplies: session.structuredReplies, tls: connection.tlsActive },
    'NBD client attached an export',
  )
}
