#!/usr/bin/env bash
# Installs the programs the tests drive, from the distribution's packages
# (Debian/Ubuntu, as root or with sudo). Without root or apt-get it lists
# what is missing and exits 0: those tests then skip (and fail in CI).
set -euo pipefail

# command -> Debian package
declare -A needs=(
  [age]=age
  [zstd]=zstd
  [gzip]=gzip
  [pigz]=pigz
  [openssl]=openssl
  [curl]=curl
  [radosgw]=radosgw
  [ceph-mon]=ceph-mon
  [ceph-osd]=ceph-osd
  [dockerd]=docker.io
  [busybox]=busybox-static
  [psql]=postgresql-client
  [prometheus-alertmanager]=prometheus-alertmanager
  [prometheus-pushgateway]=prometheus-pushgateway
  [prometheus-node-exporter]=prometheus-node-exporter
  [systemd-analyze]=systemd
  [nix-instantiate]=nix-bin
)

# the Docker tests need a running engine; started here when the machine has none
start_dockerd() {
  command -v dockerd >/dev/null 2>&1 || return 0
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || { echo "dockerd is not running and needs root to start" >&2; return 0; }
  echo "starting dockerd" >&2
  setsid dockerd --host=unix:///var/run/docker.sock >/tmp/ubackup-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  echo "dockerd did not start; see /tmp/ubackup-dockerd.log" >&2
}

missing=()
for command in "${!needs[@]}"; do
  command -v "$command" >/dev/null 2>&1 || [ -x "$command" ] || missing+=("${needs[$command]}")
done
# the PostgreSQL server (15 on Debian 12, 17 on 13) for the pg_dump test image
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then start_dockerd; exit 0; fi
# sort -u: several commands share a package
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
fi
if [ "$sudo" = none ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing for the tests: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 0
fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
start_dockerd
