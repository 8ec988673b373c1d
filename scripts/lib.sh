#!/usr/bin/env bash
# Shared helpers of scripts/start.sh, stop.sh and test.sh: preflight checks and idempotent
# installs (Debian packages, the stack's jars from Maven Central, the Python venv).
# Sourced, not run. Every knob is an environment variable with a default.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Runtime state (data, logs, rendered configs, jars); deleted data by `scripts/stop.sh --purge`.
export ORDERSTREAM_RUNTIME_DIR=${ORDERSTREAM_RUNTIME_DIR:-$REPO_ROOT/.runtime}
# The project's Python virtualenv.
export ORDERSTREAM_VENV=${ORDERSTREAM_VENV:-$REPO_ROOT/.venv}
# Python 3.11 interpreter used to create the venv.
ORDERSTREAM_PYTHON=${ORDERSTREAM_PYTHON:-}

# Debian packages the native stack runs on (preflight_checks adds Java 17 and Maven when
# they are missing).
APT_PACKAGES=(mariadb-server mariadb-client)

log() { printf 'orderstream: %s\n' "$*" >&2; }
die() { printf 'orderstream: error: %s\n' "$*" >&2; exit 1; }

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "not root and no sudo: install $* by hand, or run as root"
  fi
}

find_python311() {
  local candidate
  for candidate in "$ORDERSTREAM_PYTHON" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" --version 2>&1 | grep -q '^Python 3\.11\.'; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Debian packages of the build tools, installed when missing (or too old) on a Debian machine.
JAVA_PACKAGE=openjdk-17-jdk-headless
MAVEN_PACKAGE=maven

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local major
  major=$(java_major)
  [ -n "$major" ] && [ "$major" -ge 17 ]
}

# apt-get is there and we may use it (root, or sudo)
can_use_apt() {
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 &&
    { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }
}

preflight_checks() {
  if ! java_ok; then
    if can_use_apt; then
      APT_PACKAGES+=("$JAVA_PACKAGE")
    elif ! command -v java >/dev/null 2>&1; then
      die "java 17 or newer is required (Debian: apt-get install $JAVA_PACKAGE)"
    else
      die "java 17 or newer is required, found: $(java -version 2>&1 | head -n 1)"
    fi
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    can_use_apt && APT_PACKAGES+=("$MAVEN_PACKAGE") ||
      die "Maven (mvn) is required to fetch the Kafka and Debezium jars (Debian: apt-get install $MAVEN_PACKAGE)"
  fi
  find_python311 >/dev/null ||
    die "Python 3.11 is required (set ORDERSTREAM_PYTHON to its path if it is not on PATH)"
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    local p
    for p in "${APT_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        die "not root and no sudo, and $p is not installed: install ${APT_PACKAGES[*]} first"
    done
  fi
}

# After the Debian packages are in: the tools preflight_checks found missing now work.
check_build_tools() {
  java_ok || die "java 17 or newer is required, found: $(java -version 2>&1 | head -n 1)" \
    "(after installing $JAVA_PACKAGE; check update-alternatives --config java)"
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is still missing after installing $MAVEN_PACKAGE"
}

ensure_apt_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd apt-get update -qq
  sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# The jars resolved from stack/pom.xml; re-resolved from scratch when the pom changes, so
# two Kafka versions never mix on the classpath.
ensure_jars() {
  local jars=$ORDERSTREAM_RUNTIME_DIR/jars stamp want
  stamp=$jars/.pom.sha256
  want=$(sha256sum "$REPO_ROOT/stack/pom.xml" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "resolving Kafka, Connect, Debezium and JMX exporter jars with Maven"
  rm -rf "$jars"
  mkdir -p "$jars"
  mvn -q -B -Dstyle.color=never -f "$REPO_ROOT/stack/pom.xml" -Dstack.dir="$jars" \
    dependency:copy-dependencies@kafka-libs dependency:copy@jmx-agent \
    dependency:unpack@debezium-plugin ||
    die "Maven could not resolve the jars of stack/pom.xml (see its output above)"
  echo "$want" >"$stamp"
}

ensure_venv() {
  local venv=$ORDERSTREAM_VENV stamp want python
  stamp=$venv/.pyproject.sha256
  want=$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  python=$(find_python311)
  log "creating the Python venv in $venv"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip==24.3.1
  "$venv/bin/pip" install -q -e "$REPO_ROOT[dev]" ||
    die "pip could not install the project into $venv (see its output above)"
  echo "$want" >"$stamp"
}

install_everything() {
  preflight_checks
  ensure_apt_packages
  check_build_tools
  ensure_jars
  ensure_venv
}

orderstream() {
  "$ORDERSTREAM_VENV/bin/orderstream" "$@"
}
