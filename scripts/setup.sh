#!/usr/bin/env bash
# Bootstrap the EGI dev environment (idempotent; a second run is fast).
#
#   bash scripts/setup.sh               Node >= 22.19 (Node 24 into .tools/ if needed) + npm deps
#   bash scripts/setup.sh --test-tools  ...and the tools the tests use: curl, nghttp,
#                                       h2load, /usr/bin/python3 with h2, Node 22 in .tools/node22,
#                                       Debian's chromium (browser tests; skipped without it)
#   bash scripts/setup.sh --bench-tools ...and the tools bench/ uses: h2load; Debian's Hypercorn,
#                                       uvicorn, uvloop, httptools for /usr/bin/python3 (peers.ts);
#                                       valgrind (in-process.ts --instructions)
set -euo pipefail

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

want_test_tools=0
want_bench_tools=0
for arg in "$@"; do
  case "$arg" in
    --test-tools) want_test_tools=1 ;;
    --bench-tools) want_bench_tools=1 ;;
    -h|--help)
      sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    *) die "unknown argument: $arg (usage: bash scripts/setup.sh [--test-tools] [--bench-tools])" ;;
  esac
done

# Repo root from this script's location, not $PWD.
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
tools="$root/.tools"
tools_node="$tools/node_modules/.bin/node"

# node_version_ge <node-binary> <major> <minor>: true if it runs and is >= major.minor.
node_version_ge() {
  local bin="$1" want_major="$2" want_minor="$3" v major minor
  v="$("$bin" --version 2>/dev/null)" || return 1
  v="${v#v}"
  IFS=. read -r major minor _ <<<"$v"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  (( major > want_major || (major == want_major && minor >= want_minor) ))
}

# node_supported <node-binary>: package.json "engines": ^22.19.0 || >=24.0.0.
node_supported() {
  node_version_ge "$1" 24 0 && return 0
  node_version_ge "$1" 22 19 && ! node_version_ge "$1" 23 0
}

# --- 1. Node -----------------------------------------------------------------
# Prefer an already-bootstrapped .tools Node (the package.json scripts put it
# first on PATH), then a new-enough PATH node, else bootstrap Node 24.
node_bin=""
if [[ -x "$tools_node" ]] && node_version_ge "$tools_node" 24 0; then
  node_bin="$tools_node"
  log "using bootstrapped node $("$node_bin" --version) in .tools/"
elif path_node="$(command -v node 2>/dev/null)" && node_supported "$path_node"; then
  node_bin="$path_node"
  log "using node $("$node_bin" --version) from PATH"
else
  command -v npm >/dev/null 2>&1 || die "npm not found; need npm to bootstrap Node 24"
  if [[ -n "${path_node:-}" ]]; then
    log "PATH node is $("$path_node" --version 2>/dev/null || echo '?'), need >= 22.19; installing node@24 into .tools/"
  else
    log "no node on PATH; installing node@24 into .tools/"
  fi
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error node@24
  node_version_ge "$tools_node" 24 0 || die "bootstrapped $tools_node does not run or is not >= 24"
  node_bin="$tools_node"
  log "installed node $("$node_bin" --version) into .tools/"
fi
node_dir="$(dirname -- "$node_bin")"
# Node 24 first on PATH so npm (and its engine checks / lifecycle scripts) see it.
export PATH="$node_dir:$PATH"

# --- 2. npm dependencies -------------------------------------------------------
command -v npm >/dev/null 2>&1 || die "npm not found on PATH"
cd "$root"
stamp="$root/node_modules/.egi-setup-stamp"
deps_hash() { cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1; }

if [[ -f "$stamp" && -f node_modules/.package-lock.json && "$(cat "$stamp")" == "$(deps_hash)" ]]; then
  log "node_modules up to date"
else
  if [[ -f package-lock.json ]]; then
    log "npm ci"
    npm ci --no-audit --no-fund
  else
    log "npm install (no package-lock.json)"
    npm install --no-audit --no-fund
  fi
  # Hash after install: `npm install` may have written package-lock.json.
  deps_hash >"$stamp"
fi

# install_missing <what> <check-function> <debian packages>: when the check
# function prints what is missing, apt-get installs the packages (as root),
# then checks again; dies saying what is missing and how to get it otherwise.
install_missing() {
  local what="$1" check="$2" pkgs="$3" missing
  missing="$("$check")"
  [[ -z "$missing" ]] && return 0
  if [[ "$(id -u)" -ne 0 ]]; then
    die "missing $what: $missing; install them as root: apt-get install -y $pkgs"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing $what: $missing; no apt-get, install: $pkgs"
  log "missing $missing; apt-get install $pkgs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
  missing="$("$check")"
  [[ -z "$missing" ]] || die "still missing after apt-get install: $missing"
}

# --- 3. system test tools (optional) -------------------------------------------
if (( want_test_tools )); then
  missing_tools() {
    local m=()
    command -v curl   >/dev/null 2>&1 || m+=(curl)
    command -v nghttp >/dev/null 2>&1 || m+=(nghttp)
    command -v h2load >/dev/null 2>&1 || m+=(h2load)
    # Debian's python3-h2 is only importable by /usr/bin/python3, not a pyenv/venv python3.
    /usr/bin/python3 -c 'import h2' >/dev/null 2>&1 || m+=("/usr/bin/python3:h2")
    echo "${m[*]}"
  }
  install_missing "test tools" missing_tools "curl nghttp2-client python3-h2"
  log "test tools ok (curl, nghttp, h2load, /usr/bin/python3 h2)"

  # Debian's Chromium, for test/browser/ (driven by playwright-core, which never downloads
  # a browser). Not fatal: without it the browser tests are skipped, saying why.
  if chromium_bin="$(command -v chromium 2>/dev/null)"; then
    log "chromium at $chromium_bin"
  elif [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "warning: no chromium and cannot apt-get install it (not root, or no apt-get); the browser tests will be skipped"
  else
    log "missing chromium; apt-get install chromium"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      && chromium_bin="$(command -v chromium 2>/dev/null)"; then
      log "chromium at $chromium_bin"
    else
      log "warning: apt-get install chromium failed; the browser tests will be skipped"
    fi
  fi

  # Node 22 LTS, for the package test (test/package/): the oldest Node EGI supports.
  node22="$tools/node22/node_modules/.bin/node"
  if [[ -x "$node22" ]] && node_supported "$node22" && ! node_version_ge "$node22" 23 0; then
    log "node $("$node22" --version) in .tools/node22"
  else
    log "installing node@22 into .tools/node22"
    npm install --prefix "$tools/node22" --no-save --no-audit --no-fund --loglevel=error node@22
    node_supported "$node22" && ! node_version_ge "$node22" 23 0 || die "bootstrapped $node22 is not Node 22 >= 22.19"
    log "installed node $("$node22" --version) into .tools/node22"
  fi
fi

# --- 4. benchmark tools (optional) ----------------------------------------------
# h2load drives every benchmark; bench/peers.ts also serves the same hello from
# Hypercorn (h2c) and uvicorn (HTTP/1.1), Debian's, run by /usr/bin/python3;
# bench/in-process.ts --instructions counts instructions with valgrind's callgrind.
if (( want_bench_tools )); then
  missing_bench_tools() {
    local m=()
    command -v h2load >/dev/null 2>&1 || m+=(h2load)
    command -v valgrind >/dev/null 2>&1 || m+=(valgrind)
    local mod
    for mod in hypercorn uvicorn uvloop httptools; do
      /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || m+=("/usr/bin/python3:$mod")
    done
    echo "${m[*]}"
  }
  install_missing "bench tools" missing_bench_tools "nghttp2-client valgrind python3-hypercorn uvicorn python3-uvloop python3-httptools"
  log "bench tools ok (h2load, valgrind, /usr/bin/python3 hypercorn, uvicorn, uvloop, httptools)"
fi

log "node $(node --version) at $(command -v node)"
