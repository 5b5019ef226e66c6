/**
 * flake.nix, as far as it can be checked without nixpkgs (which cannot be
 * fetched on the test machines): it parses, and its `outputs` function,
 * called with a stub nixpkgs, gives what the README promises: the CLI
 * package for x86_64-linux and aarch64-linux at package.json's version,
 * built by `node scripts/build.mjs --cli-only` on Node.js 24 and wrapped to
 * run on it, and a dev shell with the programs the tests drive. Debian's Nix
 * (2.8) has flakes as an experimental feature only, so the flake is imported
 * as a plain Nix file rather than run through `nix flake check`.
 *
 * The stub stands in for the nixpkgs attributes the flake uses: each
 * package is the string `<attribute>@<system>`, and buildNpmPackage, mkShell
 * and cleanSourceWith return their arguments. So a package name that real
 * nixpkgs lacks, the real build and npmDepsHash are not checked here.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { requireCommands } from "../harness/tools.ts"

const execFileP = promisify(execFile)

const root = path.resolve(import.meta.dirname, "../..")
const flakeFile = path.join(root, "flake.nix")
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  readonly version: string
  readonly description: string
  readonly engines: { readonly node: string }
}

const systems = ["aarch64-linux", "x86_64-linux"]

/** The devShell's programs, by nixpkgs attribute: scripts/provision.sh's list. */
const devTools = [
  "nodejs_24",
  "age",
  "zstd",
  "gzip",
  "openssl",
  "curl",
  "ceph",
  "docker",
  "postgresql",
  "prometheus-alertmanager",
  "prometheus-pushgateway",
  "prometheus-node-exporter",
  "systemd"
]

/**
 * A nixpkgs with only what the flake may use. A package is the string
 * `<attribute>@<system>` (so a package of the wrong system shows), the
 * builders return their arguments, and anything else the flake reaches for
 * fails the evaluation (an unknown attribute).
 */
const stubNixpkgs = `
  let
    lib = {
      genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
      makeBinPath = packages: builtins.concatStringsSep ":" (map (p: "\${p}/bin") packages);
      hasPrefix = prefix: text: builtins.substring 0 (builtins.stringLength prefix) text == prefix;
      cleanSource = src: src;
      cleanSourceWith = args: args;
      licenses.asl20 = "asl20";
      platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
    };
    packagesFor = system:
      let package = name: "\${name}@\${system}";
      in (lib.genAttrs ${nixList([...devTools, "makeWrapper", "coreutils"])} package) // {
        pkgsStatic.busybox = package "pkgsStatic.busybox";
        buildNpmPackage = args: args // { stubBuilder = "buildNpmPackage"; };
        mkShell = args: args // { stubBuilder = "mkShell"; };
        runCommand = name: env: script: "runCommand \${name}: \${script}";
      };
  in {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ] packagesFor;
  }
`

function nixList(items: ReadonlyArray<string>): string {
  return `[ ${items.map((item) => JSON.stringify(item)).join(" ")} ]`
}

/** What the test reads of the outputs: plain data only (a path in the JSON would be copied to the store). */
const evaluation = `
  { flake }:
  let
    flakeFile = /. + flake;
    nixpkgs = ${stubNixpkgs};
    outputs = (import flakeFile).outputs { self = outputs // { outPath = dirOf flakeFile; }; inherit nixpkgs; };
    keeps = filter: map (name: filter "/checkout/\${name}" "directory")
      [ "src" "bin" "scripts" "package.json" "package-lock.json" "node_modules" "dist" "release" "dist.build-123" "result" ];
  in {
    nixpkgsUrl = (import flakeFile).inputs.nixpkgs.url;
    packages = builtins.mapAttrs (system: packages: {
      names = builtins.attrNames packages;
      default = {
        inherit (packages.default) stubBuilder pname version nodejs npmDepsHash npmRebuildFlags nativeBuildInputs buildPhase installPhase;
        meta = { inherit (packages.default.meta) description mainProgram license; };
        srcKeeps = keeps packages.default.src.filter;
      };
    }) outputs.packages;
    devShells = builtins.mapAttrs (system: shells: {
      names = builtins.attrNames shells;
      default = { inherit (shells.default) stubBuilder packages; };
    }) outputs.devShells;
  }
`

interface Evaluated {
  readonly nixpkgsUrl: string
  readonly packages: Record<string, {
    readonly names: Array<string>
    readonly default: {
      readonly stubBuilder: string
      readonly pname: string
      readonly version: string
      readonly nodejs: string
      readonly npmDepsHash: string
      readonly npmRebuildFlags: Array<string>
      readonly nativeBuildInputs: Array<string>
      readonly buildPhase: string
      readonly installPhase: string
      readonly meta: { readonly description: string; readonly mainProgram: string; readonly license: string }
      readonly srcKeeps: Array<boolean>
    }
  }>
  readonly devShells: Record<string, { readonly names: Array<string>; readonly default: { readonly stubBuilder: string; readonly packages: Array<string> } }>
}

// Nix keeps state (and, as root, would use the machine's /nix/var); a scratch HOME and state dir of its own
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ubackup-nix-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))
const nixEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: scratch,
  NIX_STATE_DIR: path.join(scratch, "state"),
  NIX_LOG_DIR: path.join(scratch, "log"),
  // Debian's nix.conf names a build group that need not exist; nothing is built here
  NIX_CONFIG: "build-users-group ="
}

const nixInstantiate = (...args: Array<string>) =>
  execFileP("nix-instantiate", args, { env: nixEnv, cwd: root, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr })
  )

let evaluated: Promise<Evaluated> | undefined
/** The outputs with the stub nixpkgs, evaluated once: `--readonly-mode`, so nothing is ever added to a store. */
const evaluate = () =>
  evaluated ??= nixInstantiate("--readonly-mode", "--eval", "--strict", "--json", "--argstr", "flake", flakeFile, "--expr", evaluation).then((result) => {
    if (result.code !== 0) throw new Error(`nix-instantiate --eval failed (${result.code}):\n${result.stderr}`)
    return JSON.parse(result.stdout) as Evaluated
  })

/** `>=22.19` → 22. */
const engineFloorMajor = (range: string) => {
  const match = /^>=\s*(\d+)(?:\.\d+){0,2}$/.exec(range.trim())
  if (match === null) throw new Error(`package.json engines.node is not a >= floor: ${range}`)
  return Number(match[1])
}

describe.runIf(requireCommands("flake.nix tests", "nix-instantiate"))("flake.nix", () => {
  it("parses (nix-instantiate --parse)", async () => {
    const result = await nixInstantiate("--parse", flakeFile)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
  })

  it("evaluates with a stub nixpkgs: the CLI package at package.json's version, for x86_64-linux and aarch64-linux", async () => {
    const { nixpkgsUrl, packages } = await evaluate()
    expect(nixpkgsUrl).toMatch(/^github:NixOS\/nixpkgs\/nixos-\d\d\.\d\d$/)
    expect(Object.keys(packages).sort()).toEqual(systems)
    for (const system of systems) {
      const { names, default: ubackup } = packages[system]!
      expect(names).toEqual(["default"])
      expect(ubackup.stubBuilder).toBe("buildNpmPackage")
      expect(ubackup.pname).toBe("ubackup")
      expect(ubackup.version).toBe(pkg.version)
      expect(ubackup.nodejs).toBe(`nodejs_24@${system}`)
      expect(ubackup.meta).toEqual({ description: pkg.description, mainProgram: "ubackup", license: "asl20" })
      // an SRI sha256: a placeholder until `prefetch-npm-deps package-lock.json` gives the real one
      expect(ubackup.npmDepsHash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/)
      expect(ubackup.npmRebuildFlags).toEqual(["--ignore-scripts"])
      // the bundle only, as the Dockerfile builds it
      expect(ubackup.buildPhase).toContain("node scripts/build.mjs --cli-only")
      expect(ubackup.nativeBuildInputs).toEqual([`makeWrapper@${system}`])
      for (const copied of ["cp bin/ubackup $out/lib/ubackup/bin/ubackup", "cp -r dist $out/lib/ubackup/dist", "cp scripts/lib/node.sh $out/lib/ubackup/scripts/lib/node.sh"]) {
        expect(ubackup.installPhase).toContain(copied)
      }
      // $out/bin/ubackup runs the launcher with nixpkgs' Node.js 24 first on PATH
      expect(ubackup.installPhase.replace(/\\\n\s*/g, "")).toContain(
        `makeWrapper $out/lib/ubackup/bin/ubackup $out/bin/ubackup --prefix PATH : nodejs_24@${system}/bin:coreutils@${system}/bin`
      )
      // the sources without what a checkout builds or installs
      expect(ubackup.srcKeeps).toEqual([true, true, true, true, true, false, false, false, false, false])
    }
  })

  it("evaluates with a stub nixpkgs: a dev shell with Node.js 24 and every program the tests drive", async () => {
    const { devShells } = await evaluate()
    expect(Object.keys(devShells).sort()).toEqual(systems)
    for (const system of systems) {
      const { names, default: shell } = devShells[system]!
      expect(names).toEqual(["default"])
      expect(shell.stubBuilder).toBe("mkShell")
      for (const tool of devTools) expect(shell.packages).toContain(`${tool}@${system}`)
      // busybox: the static one, alone (its applets would shadow the shell's tools)
      const busybox = shell.packages.filter((entry) => entry.includes("busybox"))
      expect(busybox).toHaveLength(1)
      expect(busybox[0]).toMatch(new RegExp(`^runCommand [^:]+: [^]*ln -s pkgsStatic\\.busybox@${system}/bin/busybox \\$out/bin/busybox`))
      expect(shell.packages).toHaveLength(devTools.length + 1)
    }
  })

  it("builds on a Node.js at or above package.json's engines.node floor, the same one for the package and the shell", async () => {
    const floor = engineFloorMajor(pkg.engines.node)
    expect(floor).toBe(22)
    const { packages, devShells } = await evaluate()
    for (const system of systems) {
      const nodejs = packages[system]!.default.nodejs
      const major = Number(/^nodejs_(\d+)@/.exec(nodejs)?.[1])
      expect(major).toBeGreaterThanOrEqual(floor)
      expect(devShells[system]!.default.packages).toContain(nodejs)
    }
    // and no other Node.js anywhere in the file
    const majors = new Set([...fs.readFileSync(flakeFile, "utf8").matchAll(/\bnodejs_(\d+)\b/g)].map((match) => match[1]))
    expect([...majors]).toEqual(["24"])
  })
})
