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

# moto_server, the S3-compatible server the object-store tests run against.
ensure_moto() {
  command -v moto_server >/dev/null && return 0
  python3 -m pip install --quiet 'moto[server]' 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]'
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  export PATH="$HOME/.local/bin:$PATH"
  command -v moto_server >/dev/null || { echo "moto_server is not on PATH" >&2; return 1; }
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
