/**
 * Fault-injecting proxies on 127.0.0.1, for the reliability tests
 * (docs/RELIABILITY.md): one in front of the real S3 server, one in front
 * of the real Docker engine's socket.
 *
 * The S3 proxy forwards each request unchanged (the Host header too, so
 * the client's SigV4 signature still verifies upstream) unless its rule
 * names a fault for it: a throttling or server error, a connection reset
 * while the request body is still arriving, a stall (no answer at all), or
 * a response lost after the store carried the request out. Requests are
 * classified by S3 operation, and counted, so a rule can fault "the first
 * attempt of part 2" and a test can see the retries.
 *
 * The engine proxy is plain TCP (the Docker API hijacks connections for
 * exec streams): it can cut every open connection once a stream has
 * carried some bytes, and refuse new ones for a while, as an engine
 * restart does.
 */
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as net from "node:net"

export type S3Operation =
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "ListMultipartUploads"
  | "ListParts"
  | "ListObjects"
  | "HeadObject"
  | "GetObject"
  | "PutObject"
  | "Other"

/**
 * - `slowDown`: 503 SlowDown, after reading the body (S3's throttling answer);
 * - `internalError`: 500 InternalError, after reading the body;
 * - `resetMidBody`: the connection is reset after the first ~256 KiB of the body, nothing forwarded;
 * - `stall`: the body is read, then no answer ever comes;
 * - `dropResponse`: the request is forwarded and carried out, then the connection is reset before the answer.
 */
export type S3Fault = "slowDown" | "internalError" | "resetMidBody" | "stall" | "dropResponse"

export interface ProxiedRequest {
  readonly operation: S3Operation
  readonly method: string
  /** Path and query, as sent. */
  readonly url: string
  /** The part number of an UploadPart. */
  readonly part: number | undefined
  /** 1 for the first request of this operation (and part), 2 for its first retry, … */
  readonly attempt: number
  readonly fault: S3Fault | undefined
}

export type S3FaultRule = (request: Omit<ProxiedRequest, "fault">) => S3Fault | undefined

export interface S3FaultProxy {
  /** The endpoint to give ubackup instead of the store's. */
  readonly url: string
  readonly requests: ReadonlyArray<ProxiedRequest>
  rule: S3FaultRule
  /** Forgets the requests seen (attempt numbers start again at 1). */
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const s3ErrorBody = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`

export const classify = (method: string, url: string): { readonly operation: S3Operation; readonly part: number | undefined } => {
  const query = new URL(url, "http://proxy").searchParams
  const part = query.has("partNumber") ? Number(query.get("partNumber")) : undefined
  const operation: S3Operation = method === "PUT"
    ? (query.has("uploadId") ? "UploadPart" : "PutObject")
    : method === "POST"
    ? (query.has("uploads") ? "CreateMultipartUpload" : query.has("uploadId") ? "CompleteMultipartUpload" : "Other")
    : method === "DELETE"
    ? (query.has("uploadId") ? "AbortMultipartUpload" : "Other")
    : method === "HEAD"
    ? "HeadObject"
    : method === "GET"
    ? (query.has("uploads") ? "ListMultipartUploads" : query.has("uploadId") ? "ListParts" : query.has("list-type") ? "ListObjects" : "GetObject")
    : "Other"
  return { operation, part }
}

/** The S3 proxy in front of `upstream` (`http://127.0.0.1:port`). */
export const startS3FaultProxy = async (upstream: string, rule: S3FaultRule = () => undefined): Promise<S3FaultProxy> => {
  const target = new URL(upstream)
  const agent = new http.Agent({ keepAlive: true })
  const requests: Array<ProxiedRequest> = []
  const sockets = new Set<Socket>()
  const attempts = new Map<string, number>()

  const server = http.createServer((request, response) => {
    const method = request.method ?? "GET"
    const url = request.url ?? "/"
    const { operation, part } = classify(method, url)
    // the key and upload are in the path and query: a retry of the same part is the same request
    const identity = `${method} ${url}`
    const attempt = (attempts.get(identity) ?? 0) + 1
    attempts.set(identity, attempt)
    const fault = state.rule({ operation, method, url, part, attempt })
    requests.push({ operation, method, url, part, attempt, fault })

    const drainThen = (then: () => void) => {
      request.resume()
      request.on("end", then)
    }
    switch (fault) {
      case "slowDown":
      case "internalError":
        return drainThen(() => {
          const [status, code, message] = fault === "slowDown"
            ? [503, "SlowDown", "Please reduce your request rate."]
            : [500, "InternalError", "We encountered an internal error. Please try again."]
          response.writeHead(status, { "Content-Type": "application/xml" })
          response.end(method === "HEAD" ? undefined : s3ErrorBody(code, message))
        })
      case "resetMidBody": {
        let received = 0
        const cut = () => request.socket.resetAndDestroy()
        request.on("data", (chunk: Buffer) => {
          received += chunk.length
          if (received >= 256 * 1024) cut()
        })
        // a body smaller than the threshold is cut at its end
        request.on("end", cut)
        return
      }
      case "stall":
        return drainThen(() => undefined)
    }
    const forwarded = http.request({
      host: target.hostname,
      port: target.port,
      method,
      path: url,
      headers: request.headers,
      agent
    }, (answer) => {
      if (fault === "dropResponse") {
        answer.resume()
        answer.on("end", () => request.socket.resetAndDestroy())
        return
      }
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    forwarded.on("error", () => request.socket.destroy())
    request.pipe(forwarded)
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const state: S3FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    requests,
    rule,
    reset: () => {
      requests.length = 0
      attempts.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        agent.destroy()
        server.close(() => resolve())
      })
  }
  return state
}

export interface EngineProxy {
  /** `docker_endpoint` for ubackup: `tcp://127.0.0.1:port`. */
  readonly endpoint: string
  /**
   * Cuts every open connection as soon as one has carried `afterBytes`
   * from the engine (an exec stream under way), then refuses new
   * connections for `downMs`: the engine restarting, as a client sees it.
   */
  readonly restartWhenStreaming: (afterBytes: number, downMs: number) => Promise<void>
  readonly close: () => Promise<void>
}

/** A TCP proxy to the engine's unix socket. */
export const startEngineProxy = async (socketPath = "/var/run/docker.sock"): Promise<EngineProxy> => {
  const open = new Set<{ readonly client: Socket; readonly engine: Socket }>()
  let downUntil = 0
  let trigger: { readonly afterBytes: number; readonly downMs: number; readonly fired: () => void } | undefined

  const cutAll = () => {
    for (const { client, engine } of open) {
      client.resetAndDestroy()
      engine.destroy()
    }
    open.clear()
  }

  const server = net.createServer((client) => {
    if (Date.now() < downUntil) return void client.resetAndDestroy()
    const engine = net.connect(socketPath)
    const pair = { client, engine }
    open.add(pair)
    let carried = 0
    engine.on("data", (chunk: Buffer) => {
      carried += chunk.length
      if (trigger !== undefined && carried >= trigger.afterBytes) {
        const { downMs, fired } = trigger
        trigger = undefined
        downUntil = Date.now() + downMs
        cutAll()
        fired()
      }
    })
    client.pipe(engine)
    engine.pipe(client)
    const end = () => {
      open.delete(pair)
      client.destroy()
      engine.destroy()
    }
    client.on("error", end)
    engine.on("error", end)
    client.on("close", end)
    engine.on("close", end)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `tcp://127.0.0.1:${port}`,
    restartWhenStreaming: (afterBytes, downMs) => new Promise<void>((fired) => void (trigger = { afterBytes, downMs, fired })),
    close: () =>
      new Promise<void>((resolve) => {
        cutAll()
        server.close(() => resolve())
      })
  }
}
