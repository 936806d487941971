# syntax=docker/dockerfile:1
#
# disconcierge container image: the one binary on Debian bookworm-slim, running as an unprivileged user,
# with its SQLite database in the /data volume. See docs/deploying.md.
#
#   docker build -t disconcierge .
#   docker run -d --name disconcierge --env-file .env -v disconcierge-data:/data \
#     -p 127.0.0.1:5000:5000 --stop-timeout 75 disconcierge
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

############################################################################################################
# Build stage
############################################################################################################
FROM rust:1-slim-bookworm AS build

# The slim Rust image has gcc and libc6-dev. Two dependencies compile C: libsqlite3-sys (sqlx's bundled
# SQLite) and aws-lc-sys (rustls' crypto provider); aws-lc-rs asks for a C/C++ compiler on Linux, so add
# g++. TLS is rustls only: no OpenSSL, pkg-config or libssl-dev is needed.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*

# rust-toolchain.toml asks for the "stable" channel with rustfmt and clippy; inside this image that would make
# rustup download a second toolchain. Build with the toolchain the image ships instead (RUST_VERSION is
# set by the rust image; the workspace needs 1.95 or newer, which rust:1 is).
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never

# Set with `docker build --build-arg GIT_REVISION="$(git rev-parse --short=12 HEAD)" ...`: the build
# script reads DC_GIT_REVISION when there is no .git to ask.
ARG GIT_REVISION=unknown
ENV DC_GIT_REVISION=${GIT_REVISION}

WORKDIR /src
COPY . .

# The registry and target directory live in BuildKit caches, so a rebuild after a source change compiles
# only the workspace's own crates. The target dir is a cache mount, not part of the layer: the binary is
# copied out in the same step.
# Note: .git is not sent to the builder (.dockerignore); `disconcierge version` names the GIT_REVISION
# build argument instead (and the image label below records it too).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    rustc --version \
 && cargo build --release --locked -p disconcierge \
 && install -D -m 0755 target/release/disconcierge /out/disconcierge

############################################################################################################
# Runtime stage
############################################################################################################
FROM debian:bookworm-slim

# Set with `docker build --build-arg GIT_REVISION="$(git rev-parse --short=12 HEAD)" ...`.
ARG GIT_REVISION=unknown
LABEL org.opencontainers.image.title="disconcierge" \
      org.opencontainers.image.description="A Discord AI concierge and support desk." \
      org.opencontainers.image.source="https://github.com/disconcierge/disconcierge" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${GIT_REVISION}"

# CA certificates for HTTPS to Discord, OpenAI and the like (rustls reads the system's roots).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 disconcierge \
 && useradd --system --uid 10001 --gid disconcierge --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin disconcierge \
 && mkdir -p /data \
 && chown disconcierge:disconcierge /data \
 && chmod 0750 /data

COPY --from=build /out/disconcierge /usr/local/bin/disconcierge

# Environment variables win over a dotenv file, so these two cannot be changed from a .env in /data or from
# --config: override them with `docker run -e` / compose `environment:`.
# The webhook listener (off unless DC_DISCORD_WEBHOOK_SERVER_ENABLED=true) also listens on every interface,
# so that publishing port 5001 works when it is turned on.
ENV DC_DATABASE=/data/disconcierge.sqlite3 \
    DC_API_LISTEN=0.0.0.0:5000 \
    DC_DISCORD_WEBHOOK_SERVER_LISTEN=0.0.0.0:5001

WORKDIR /data
VOLUME ["/data"]
USER 10001:10001

# 5000: admin UI / API, /healthz, /readyz, /metrics. 5001: Discord webhook interactions (when enabled).
EXPOSE 5000 5001

# `run` shuts down gracefully on SIGTERM within DC_SHUTDOWN_TIMEOUT (60s by default). Docker only waits 10s
# before SIGKILL unless told otherwise: use `docker run --stop-timeout 75` / compose `stop_grace_period: 75s`.
# The binary is PID 1 and handles SIGTERM itself; `docker run --init` is fine too but not needed.
STOPSIGNAL SIGTERM

# `disconcierge healthcheck` without --url probes /readyz (database reachable, schema current) on
# DC_API_LISTEN, with 0.0.0.0 replaced by 127.0.0.1 and https when the API has TLS. A URL given with --url
# is used exactly as written, so it would have to name the path: --url http://127.0.0.1:5000/readyz.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["disconcierge", "healthcheck"]

ENTRYPOINT ["disconcierge"]
CMD ["run"]
