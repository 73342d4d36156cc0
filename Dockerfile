# syntax=docker/dockerfile:1
# Multi-stage build: compile with the full toolchain, run on a slim Debian as a non-root user.

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, in their own layer, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && echo '' > src/lib.rs \
 && echo 'fn main() {}' > benches/loadgen.rs \
 && cargo build --release --locked --bin atencion \
 && rm -rf src benches

COPY src src
COPY benches benches
COPY migrations migrations
COPY config config
# COPY keeps the context's modification times, which can be older than the stub build above.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin atencion

FROM debian:bookworm-slim AS runtime
# libpq5: the Postgres client library the binary links; curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin atencion \
 && mkdir -p /app/data \
 && chown atencion /app/data

WORKDIR /app
COPY --from=build /src/target/release/atencion /usr/local/bin/atencion
COPY config /app/config

USER atencion
# production.toml: listen on 0.0.0.0 and log JSON. Without ATENCION__DATABASE__URL the data lives
# in SQLite under /app/data; mount a volume there (or point it at Postgres).
ENV APP_ENV=production
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["atencion"]
CMD ["serve"]
