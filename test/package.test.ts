/**
 * The package as an app gets it: `npm pack`, unpacked into a fresh project's
 * node_modules, used by plain Node (no TypeScript loader) and type-checked by
 * plain tsc settings (no `allowImportingTsExtensions`). The subpaths that
 * need neither must load neither the AWS SDK nor dockerode: every module Node
 * resolves in the app is recorded by a resolve hook.
 *
 * The app's other dependencies are links to this repository's node_modules
 * (the tests run offline); that each one the package imports is declared in
 * package.json is checked from the built files.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { installTarball, packRepository, repositoryRoot as root } from "./harness/packedApp.ts"

const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  exports: Record<string, unknown>
  dependencies: Record<string, string>
  files: Array<string>
}
let tarball = ""
let app = ""

const run = (script: string) =>
  execFileSync(process.execPath, ["--import", "./record.mjs", script], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

/** The app's script prints one JSON line last: what it found, and which packages Node resolved. */
const result = (script: string) => JSON.parse(run(script).trim().split("\n").at(-1)!) as { ok: boolean; packages: Array<string> }

beforeAll(() => {
  // dist/ was built by the test run's global setup
  tarball = packRepository("ubackup-package-")
  app = path.join(path.dirname(tarball), "app")
  installTarball(tarball, app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  // every package Node resolves, by name, printed at exit
  fs.writeFileSync(
    path.join(app, "record.mjs"),
    `import { registerHooks } from "node:module"
const packages = new Set()
registerHooks({ resolve(specifier, context, next) {
  const resolved = next(specifier, context)
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(decodeURIComponent(resolved.url))
  if (match) packages.add(match[1])
  return resolved
} })
globalThis.packagesLoaded = () => [...packages].sort()
`
  )
}, 120_000)

describe("the npm package", () => {
  it("ships the built library and the CLI, not the sources or the tests", () => {
    const listed = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
      .split("\n").filter(Boolean)
    expect(listed).toContain("package/dist/lib/index.js")
    expect(listed).toContain("package/dist/lib/index.d.ts")
    expect(listed).toContain("package/dist/cli.mjs")
    expect(listed).toContain("package/bin/ubackup")
    expect(listed.filter((file) => /^package\/(src|test|bench|docs)\//.test(file) || /\.ts$/.test(file) && !/\.d\.ts$/.test(file))).toEqual([])
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const files = typeof target === "string" ? [target] : Object.values(target as Record<string, string>)
      for (const file of files) expect(listed, `${subpath}: ${file}`).toContain(`package/${file.replace(/^\.\//, "")}`)
    }
  })

  it("every package the built library imports is a declared dependency", () => {
    const imported = new Set<string>()
    const scan = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name)
        if (entry.isDirectory()) scan(file)
        else if (entry.name.endsWith(".js")) {
          // top-level import/export statements and dynamic imports (not the examples in comments)
          const statements = /^(?:import|export)\b[^;]*?\bfrom\s*"([^".][^"]*)"|\bimport\(\s*"([^".][^"]*)"\s*\)/gm
          for (const [, fromStatement, dynamic] of fs.readFileSync(file, "utf8").matchAll(statements)) {
            const specifier = (fromStatement ?? dynamic)!
            if (!specifier.startsWith("node:")) imported.add(specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!)
          }
        }
      }
    }
    scan(path.join(app, "node_modules/ubackup/dist/lib"))
    expect([...imported].sort()).toEqual(["@aws-sdk/client-s3", "@effect/platform-node", "dockerode", "effect"])
    expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([])
  })

  it("ubackup/encryption, ubackup/compression and ubackup/storage/local round-trip a backup without loading the AWS SDK or dockerode", () => {
    fs.writeFileSync(
      path.join(app, "stages.mjs"),
      `import { Effect, Layer, Stream } from "effect"
import { Compression, decompress, makeCompression } from "ubackup/compression"
import { decrypt, Encryption, generateDecryptionKey, makeEncryption, parseDecryptionKeys, parseRecipient } from "ubackup/encryption"
import { layerLocal, Storage } from "ubackup/storage/local"
import { layerMemory } from "ubackup/storage/memory"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-app-"))
const text = "hello from an app\\n".repeat(10000)
const program = Effect.gen(function*() {
  const identity = yield* generateDecryptionKey("x25519")
  const keys = yield* parseDecryptionKeys(identity, "key")
  const recipient = yield* parseRecipient(keys.encryptionKeys[0], "recipient")
  const storage = yield* Storage
  const body = Stream.make(new TextEncoder().encode(text)).pipe(makeCompression({ algorithm: "zstd" }).compress, makeEncryption([recipient]).encrypt)
  const stored = yield* storage.put("app/2026-12-06 1200Z_host_1.txt.zst.age", body)
  const back = yield* Stream.mkUint8Array(storage.get(stored.id).pipe(decrypt(keys), decompress))
  return new TextDecoder().decode(back) === text
})
const ok = (await Effect.runPromise(program.pipe(Effect.provide(layerLocal(dir))))) && (await Effect.runPromise(program.pipe(Effect.provide(layerMemory()))))
console.log(JSON.stringify({ ok, packages: globalThis.packagesLoaded() }))
`
    )
    const { ok, packages } = result("stages.mjs")
    expect(ok).toBe(true)
    expect(packages).toContain("ubackup")
    expect(packages.filter((name) => name.startsWith("@aws-sdk") || name === "dockerode" || name === "ssh2")).toEqual([])
  })

  it("ubackup/promise: backup, list, get and restore with Node streams; local storage loads no AWS SDK or dockerode", () => {
    fs.writeFileSync(
      path.join(app, "promise.mjs"),
      `import { generateKeyPair, openUbackup } from "ubackup/promise"
import { Readable } from "node:stream"
import { buffer } from "node:stream/consumers"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-app-"))
const { identity, recipient } = await generateKeyPair()
const ub = await openUbackup({ storage: { local: { path: dir } }, encryption_recipients: [recipient] })
const data = Buffer.from("a database dump\\n".repeat(100000))
const stored = await ub.backup("db", "1", Readable.from([data]), { fileExtension: ".sql" })
const listed = await ub.list("db")
const raw = await buffer(ub.get(stored.id))
const restored = await buffer(ub.restore(stored.id, identity))
let tag
try { await openUbackup({ storage: {} }) } catch (error) { tag = error._tag }
await ub.close()
const ok = listed.length === 1 && listed[0].id === stored.id && raw.length === stored.size && restored.equals(data) && stored.bytesIn === data.length && tag === "ConfigError"
console.log(JSON.stringify({ ok, packages: globalThis.packagesLoaded() }))
`
    )
    const { ok, packages } = result("promise.mjs")
    expect(ok).toBe(true)
    expect(packages.filter((name) => name.startsWith("@aws-sdk") || name === "dockerode" || name === "ssh2")).toEqual([])
  })

  it("ubackup (everything) imports, with the Effect composition; ubackup/storage/s3 and ubackup/docker import", () => {
    fs.writeFileSync(
      path.join(app, "all.mjs"),
      `import { Effect, Stream } from "effect"
import { generateKeyPair, Ubackup, backupOne, Config } from "ubackup"
import { layerS3 } from "ubackup/storage/s3"
import { DockerClient } from "ubackup/docker"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-app-"))
const { identity, recipient } = await generateKeyPair()
const restored = await Effect.gen(function*() {
  const ubackup = yield* Ubackup.Ubackup
  const { id } = yield* ubackup.backupStream({ service: "app", taskId: "1", stream: Stream.make(new TextEncoder().encode("state")) })
  return new TextDecoder().decode(yield* Stream.mkUint8Array(ubackup.restore(id, identity)))
}).pipe(Effect.provide(Ubackup.layerConfig({ storage: { local: { path: dir } }, encryption_recipients: [recipient] })), Effect.runPromise)
const ok = restored === "state" && typeof layerS3 === "function" && typeof DockerClient === "function" && typeof backupOne === "function" && Config !== undefined
console.log(JSON.stringify({ ok, packages: globalThis.packagesLoaded() }))
`
    )
    const { ok } = result("all.mjs")
    expect(ok).toBe(true)
  })

  it("the declarations type-check in an app with plain TypeScript settings", () => {
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2023", module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, types: ["node"], skipLibCheck: false },
        include: ["app.ts"]
      })
    )
    fs.writeFileSync(
      path.join(app, "app.ts"),
      `import { Effect, Layer, Stream } from "effect"
import { openUbackup, type UbackupClient } from "ubackup/promise"
import { Ubackup, type BackupResult, StorageError } from "ubackup"
import { decrypt, type DecryptionKeys, Encryption, makeEncryption } from "ubackup/encryption"
import { Compression, decompress, makeCompression } from "ubackup/compression"
import { layerLocal } from "ubackup/storage/local"
import { Readable } from "node:stream"

export const viaPromise = async (): Promise<number> => {
  const ub: UbackupClient = await openUbackup({ storage: { local: { path: "/tmp" } } })
  const result: BackupResult = await ub.backup("app", "1", Readable.from([]), { fileExtension: ".sql" })
  const restored: Readable = ub.restore(result.id, "AGE-SECRET-KEY-1…")
  restored.destroy()
  // @ts-expect-error: a service is a string (proves the declarations are typed, not any)
  await ub.list(42)
  return result.size
}

const stageLayers = Layer.mergeAll(
  layerLocal("/tmp"),
  Layer.succeed(Compression, makeCompression({ algorithm: "zstd" })),
  Layer.succeed(Encryption, makeEncryption([]))
)

export const viaEffect = (keys: DecryptionKeys): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    const ubackup = yield* Ubackup.Ubackup
    const stored = yield* ubackup.backupStream({ service: "app", taskId: "1", stream: Stream.empty })
    const plain: Uint8Array = yield* Stream.mkUint8Array(ubackup.restore(stored.id, keys))
    return plain.length
  }).pipe(
    Effect.catchTag("StorageError", (error: StorageError) => Effect.succeed(error.reason.length)),
    Effect.provide(Ubackup.layer.pipe(Layer.provide(stageLayers)))
  )

export const stages = (input: Stream.Stream<Uint8Array>, keys: DecryptionKeys) => input.pipe(decrypt(keys), decompress)
`
    )
    const tsc = () => execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: app, encoding: "utf8" })
    expect(() => tsc()).not.toThrow()
  })
})
