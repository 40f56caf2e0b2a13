/**
 * What the runner knows about one accepted connection, kept on its socket
 * (and, for HTTP/2, on its session) under a private symbol.
 */
import type * as http from "node:http"
import type * as net from "node:net"
import type { ClientCertificateExtension } from "../protocol/extensions.ts"
import { ConnectionStreams } from "./connection-streams.ts"
import type { LogWhere } from "./log.ts"

const kConnection = Symbol("egi.connection")

/** One connection: its correlator number, addresses, scheme and protocol. */
export interface ConnectionInfo {
  readonly id: number
  readonly client: readonly [string, number] | null
  readonly server: readonly [string, number] | null
  readonly scheme: "http" | "https"
  /** HTTP/1.x: requests seen so far; the last request's stream ID. */
  requests: number
  /** Decided by the listener: `pending` while the first bytes are read. */
  protocol: "pending" | "h2" | "h1"
  /** HTTP/2: the RFC 9113 §7 code of the last GOAWAY the peer sent, if any. */
  peerGoawayCode: number | undefined
  /** The streams whose app is running, and whether the socket closed (`http.connection`, spec.md §7.10). */
  readonly streams: ConnectionStreams
  /** TLS: the client's verified certificate, `tls.client_certificate` of every stream (spec.md §7.11); undefined when none. */
  clientCertificate?: ClientCertificateExtension | undefined
}

type Tagged = { [kConnection]?: ConnectionInfo }

/**
 * Numbers connections from 1 and tags each socket with its info. The
 * socket's close empties the connection's stream registry and completes
 * `http.connection`'s `closed` (spec.md §7.10).
 */
export const connectionTagger = () => {
  let next = 0
  return (socket: net.Socket, scheme: "http" | "https"): ConnectionInfo => {
    const info: ConnectionInfo = {
      id: ++next,
      client: socket.remoteAddress === undefined ? null : [socket.remoteAddress, socket.remotePort ?? 0],
      server: socket.localAddress === undefined ? null : [socket.localAddress, socket.localPort ?? 0],
      scheme,
      requests: 0,
      protocol: "pending",
      peerGoawayCode: undefined,
      streams: new ConnectionStreams()
    }
    ;(socket as Tagged)[kConnection] = info
    socket.once("close", () => info.streams.close())
    return info
  }
}

/** The connection a log line is about (annotated as connectionId), none for a socket not tagged yet. */
export const whereConnection = (info: ConnectionInfo | undefined): LogWhere | undefined =>
  info === undefined ? undefined : { connectionId: info.id }

/** The info tagged on a socket or session, if any. */
export const connectionOf = (holder: unknown): ConnectionInfo | undefined =>
  holder === undefined || holder === null ? undefined : (holder as Tagged)[kConnection]

/**
 * HTTP/1.1: makes the response in progress on `socket` the last one — the
 * connection closes once it ends. False when no response is in progress.
 * (node:http keeps the response it is writing as `socket._httpMessage`.)
 */
export const closeAfterResponse = (socket: net.Socket): boolean => {
  const inProgress = (socket as net.Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage
  if (inProgress == null) return false
  inProgress.shouldKeepAlive = false
  if (inProgress.writableFinished) socket.end()
  else inProgress.once("finish", () => socket.end())
  return true
}

/** Copies a socket's info onto another holder (an HTTP/2 session). */
export const tagAlso = (holder: object, info: ConnectionInfo): void => {
  ;(holder as Tagged)[kConnection] = info
}
