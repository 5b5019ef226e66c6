/**
 * The Docker client against the real engine: every endpoint form (the
 * local socket, tcp:// and http:// through a forwarder, tcp:// with TLS
 * and client certificates), no pinned API version, and clear errors for
 * endpoints that are wrong or do not answer.
 */
import { Effect, Exit, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DockerClient, DockerError, engineVersion, loadDockerode, makeDockerClient as makeClient } from "../../src/docker/client.ts"

const Dockerode = await loadDockerode()
const makeDockerClient = (endpoint?: string) => makeClient(Dockerode, endpoint)
import { requireDocker } from "../harness/docker.ts"
import { requireCommands } from "../harness/tools.ts"

const dockerSocket = "/var/run/docker.sock"

interface Forwarder {
  readonly port: number
  /** The request lines seen, e.g. `GET /version HTTP/1.1`. */
  readonly requests: Array<string>
  readonly close: () => Promise<void>
}

/** A TCP (or TLS) listener on 127.0.0.1 that forwards every connection to the engine's socket. */
const forwarder = async (tlsOptions?: tls.TlsOptions): Promise<Forwarder> => {
  const requests: Array<string> = []
  const sockets = new Set<net.Socket>()
  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(dockerSocket)
    sockets.add(client).add(upstream)
    client.on("data", (data: Buffer) => {
      for (const line of data.toString("latin1").split("\r\n")) {
        if (/^(GET|POST|PUT|DELETE|HEAD) \S+ HTTP\/1\.1$/.test(line)) requests.push(line)
      }
    })
    client.pipe(upstream).pipe(client)
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("error", close).on("close", close)
    upstream.on("error", close).on("close", close)
  }
  const server = tlsOptions === undefined
    ? net.createServer(onConnection)
    : tls.createServer(tlsOptions, onConnection)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no TCP address")
  return {
    port: address.port,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

/** Runs `f` with environment variables set (undefined: removed), restoring them after. */
const withEnv = async <A>(vars: Record<string, string | undefined>, f: () => Promise<A>): Promise<A> => {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]))
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
  apply(vars)
  try {
    return await f()
  } finally {
    apply(saved)
  }
}

const failureOf = async <A>(effect: Effect.Effect<A, DockerError>): Promise<DockerError> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a DockerError, the call succeeded")
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined) throw new Error(`expected a DockerError, got ${String(exit.cause)}`)
  return error.error
}

const thrownBy = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  throw new Error("expected an exception")
}

describe.runIf(requireDocker("Docker client"))("Docker client", () => {
  let expected: { version: string; apiVersion: string }

  beforeAll(() => {
    const [version, apiVersion] = execFileSync("docker", ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"])
      .toString().trim().split(" ")
    expected = { version: version!, apiVersion: apiVersion! }
  })

  it("asks the engine for its version through the default endpoint", async () => {
    const answer = await withEnv({ DOCKER_HOST: undefined }, () => Effect.runPromise(engineVersion(makeDockerClient())))
    expect(answer).toEqual(expected)
  })

  it("connects to unix:///path endpoints", async () => {
    const answer = await Effect.runPromise(engineVersion(makeDockerClient(`unix://${dockerSocket}`)))
    expect(answer).toEqual(expected)
  })

  it("connects to tcp:// and http:// endpoints, with unversioned requests", async () => {
    const tcp = await forwarder()
    try {
      // DOCKER_HOST must not leak into an explicit endpoint
      await withEnv({ DOCKER_HOST: "unix:///nonexistent/docker.sock" }, async () => {
        expect(await Effect.runPromise(engineVersion(makeDockerClient(`tcp://127.0.0.1:${tcp.port}`)))).toEqual(expected)
        expect(await Effect.runPromise(engineVersion(makeDockerClient(`http://127.0.0.1:${tcp.port}`)))).toEqual(expected)
        // the engine's own, current API version answers an unversioned path: nothing pinned
        const info = await makeDockerClient(`tcp://127.0.0.1:${tcp.port}`).listContainers({ limit: 1 })
        expect(Array.isArray(info)).toBe(true)
      })
      expect(tcp.requests).toContain("GET /version HTTP/1.1")
      expect(tcp.requests.some((line) => line.startsWith("GET /containers/json?"))).toBe(true)
      expect(tcp.requests.filter((line) => /^\w+ \/v\d/.test(line))).toEqual([])
    } finally {
      await tcp.close()
    }
  })

  it("follows DOCKER_HOST when no endpoint is given", async () => {
    const tcp = await forwarder()
    try {
      const answer = await withEnv(
        { DOCKER_HOST: `tcp://127.0.0.1:${tcp.port}`, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined },
        () => Effect.runPromise(engineVersion(makeDockerClient()))
      )
      expect(answer).toEqual(expected)
      expect(tcp.requests).toEqual(["GET /version HTTP/1.1"])
    } finally {
      await tcp.close()
    }
  })

  describe.runIf(requireCommands("Docker client over TLS", "openssl"))("over TLS", () => {
    let certs: string
    let server: Forwarder

    beforeAll(async () => {
      certs = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-docker-tls-"))
      const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: certs, stdio: "pipe" })
      const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
      openssl("req", "-x509", ...ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ubackup test CA")
      openssl("req", ...ec, "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=localhost")
      fs.writeFileSync(path.join(certs, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
      openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "server-cert.pem", "-days", "2", "-extfile", "server.ext")
      openssl("req", ...ec, "-keyout", "key.pem", "-out", "client.csr", "-subj", "/CN=ubackup")
      fs.writeFileSync(path.join(certs, "client.ext"), "extendedKeyUsage=clientAuth\n")
      openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "client.ext")
      const read = (name: string) => fs.readFileSync(path.join(certs, name))
      // like dockerd with --tlsverify: only clients with a certificate from the CA get in
      server = await forwarder({
        key: read("server-key.pem"),
        cert: read("server-cert.pem"),
        ca: read("ca.pem"),
        requestCert: true,
        rejectUnauthorized: true
      })
    })

    afterAll(async () => {
      await server?.close()
      if (certs !== undefined) fs.rmSync(certs, { recursive: true, force: true })
    })

    it("uses https with DOCKER_TLS_VERIFY=1 and the certificates in DOCKER_CERT_PATH", async () => {
      const answer = await withEnv({ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certs }, () =>
        Effect.runPromise(engineVersion(makeDockerClient(`tcp://127.0.0.1:${server.port}`))))
      expect(answer).toEqual(expected)
    })

    it("fails clearly without TLS against a TLS endpoint, and without the certificate files", async () => {
      const plain = await withEnv({ DOCKER_TLS_VERIFY: undefined }, () =>
        failureOf(engineVersion(makeDockerClient(`tcp://127.0.0.1:${server.port}`))))
      expect(plain._tag).toBe("DockerError")
      expect(plain.message).toContain(`tcp://127.0.0.1:${server.port}`.replace("tcp", "http"))
      const missing = await withEnv({ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: path.join(certs, "nope") }, async () =>
        thrownBy(() => makeDockerClient(`tcp://127.0.0.1:${server.port}`)))
      expect(missing).toBeInstanceOf(DockerError)
      expect(String((missing as DockerError).message)).toMatch(/ca\.pem/)
    })
  })

  it("reports a socket that does not exist as a DockerError naming the endpoint", async () => {
    const error = await failureOf(engineVersion(makeDockerClient("unix:///nonexistent/docker.sock")))
    expect(error._tag).toBe("DockerError")
    expect(error.endpoint).toBe("unix:///nonexistent/docker.sock")
    expect(error.message).toContain("unix:///nonexistent/docker.sock")
    expect(error.message).toContain("ENOENT")
  })

  it("reports an address where nothing listens as a DockerError", async () => {
    const closed = await forwarder()
    await closed.close() // a port that just stopped listening
    const error = await failureOf(engineVersion(makeDockerClient(`tcp://127.0.0.1:${closed.port}`)))
    expect(error._tag).toBe("DockerError")
    expect(error.message).toContain("ECONNREFUSED")
  })

  it("rejects endpoints it cannot use, with a DockerError", () => {
    for (const endpoint of ["ftp://host:21", "unix://relative.sock", "tcp://", "not a url", "ssh://me@host"]) {
      const error = thrownBy(() => makeDockerClient(endpoint))
      expect(error, endpoint).toBeInstanceOf(DockerError)
      expect((error as DockerError).endpoint).toBe(endpoint)
    }
  })

  it("provides the client as a layer", async () => {
    const answer = await Effect.runPromise(
      Effect.gen(function*() {
        const { client, endpoint } = yield* DockerClient
        expect(endpoint).toBe(`unix://${dockerSocket}`)
        return yield* engineVersion(client)
      }).pipe(Effect.provide(DockerClient.layer(`unix://${dockerSocket}`)))
    )
    expect(answer).toEqual(expected)
    const failed = await Effect.runPromiseExit(
      Effect.void.pipe(Effect.provide(Layer.fresh(DockerClient.layer("gopher://x"))))
    )
    expect(Exit.isFailure(failed)).toBe(true)
  })
})
