# ubackup as a Nix flake:
#
#   nix build          the CLI: result/bin/ubackup, on nixpkgs' Node.js 24
#   nix develop        Node.js 24 and the programs the test suite drives
#
# What this repository tests of this file (test/packaging/flake.test.ts):
# that it parses, and that its outputs evaluate against a stub nixpkgs (the
# attributes below are passed through, not built). The real build and
# npmDepsHash are not tested there: nixpkgs cannot be fetched on the test
# machines.
{
  description = "ubackup: encrypted, streaming backups of Docker containers and host commands to S3 or a local folder";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      packageJson = builtins.fromJSON (builtins.readFile ./package.json);

      # What a checkout may hold besides the sources (outside git, e.g. `nix build path:.`)
      ignored = [ "node_modules" "dist" "release" "result" ".bench" "coverage" "scratch" ];
      source = lib.cleanSourceWith {
        name = "ubackup-source";
        src = lib.cleanSource ./.;
        filter = path: _type:
          let name = baseNameOf (toString path);
          in !(builtins.elem name ignored || lib.hasPrefix "dist.build-" name || lib.hasPrefix "dist.old-" name);
      };
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.buildNpmPackage {
          pname = "ubackup";
          version = packageJson.version;
          src = source;

          # package.json's engines.node is >=22.19; Node 24 LTS is what the tests run on
          nodejs = pkgs.nodejs_24;

          # PLACEHOLDER, NOT THE REAL HASH: update it after any change to
          # package-lock.json with
          #   nix run nixpkgs#prefetch-npm-deps -- package-lock.json
          # (or build once and copy the hash from the "hash mismatch" error)
          npmDepsHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

          # npm ci already runs with --ignore-scripts; without them here too,
          # `npm rebuild` would compile ssh2's optional native helper
          # (cpu-features), which the bundled CLI leaves out
          npmRebuildFlags = [ "--ignore-scripts" ];

          nativeBuildInputs = [ pkgs.makeWrapper ];

          # the bundle only (dist/cli.mjs, dist/vendor/*.mjs), as the Dockerfile builds it
          buildPhase = ''
            runHook preBuild
            node scripts/build.mjs --cli-only
            runHook postBuild
          '';

          # the launcher, the bundle and the launcher's helper, laid out as the
          # release archive is; the bundle carries every dependency, so no node_modules
          installPhase = ''
            runHook preInstall
            mkdir -p $out/lib/ubackup/bin $out/lib/ubackup/scripts/lib $out/bin
            cp bin/ubackup $out/lib/ubackup/bin/ubackup
            cp -r dist $out/lib/ubackup/dist
            cp scripts/lib/node.sh $out/lib/ubackup/scripts/lib/node.sh
            makeWrapper $out/lib/ubackup/bin/ubackup $out/bin/ubackup \
              --prefix PATH : ${lib.makeBinPath [ pkgs.nodejs_24 pkgs.coreutils ]}
            runHook postInstall
          '';

          meta = {
            description = packageJson.description;
            license = lib.licenses.asl20;
            mainProgram = "ubackup";
            platforms = lib.platforms.linux;
          };
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          # scripts/provision.sh's list, by nixpkgs' names
          packages = [
            pkgs.nodejs_24
            pkgs.age
            pkgs.zstd
            pkgs.gzip
            pkgs.openssl
            pkgs.curl
            pkgs.ceph # radosgw, ceph-mon, ceph-osd
            pkgs.docker
            # a static busybox (the tests copy it into a FROM scratch image), without its applets on PATH
            (pkgs.runCommand "busybox-static-bin" { } ''
              mkdir -p $out/bin
              ln -s ${pkgs.pkgsStatic.busybox}/bin/busybox $out/bin/busybox
            '')
            pkgs.postgresql
            pkgs.prometheus-alertmanager
            pkgs.prometheus-pushgateway
            pkgs.prometheus-node-exporter
            pkgs.systemd # systemd-analyze
          ];
        };
      });
    };
}
