# face-enroll: a release build in one stage, a minimal non-root image in the next.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# cmake and nasm build the vendored libjpeg-turbo; the release's own
# versions are wanted, whatever its latest patch is.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake nasm \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first: this layer is rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY fixtures fixtures
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/simulator.rs \
    && cargo build --release --locked \
    && rm -rf src benches

# The project itself.
COPY src src
COPY benches benches
COPY samples samples
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin face-enroll

# glibc, CA certificates and a non-root user, nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/face-enroll /usr/local/bin/face-enroll
COPY samples /usr/share/face-enroll/samples
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["face-enroll"]
CMD ["worker"]
