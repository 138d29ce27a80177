# syntax=docker/dockerfile:1
# smsgw-api image. Build from the repository root:
#   docker build -f deploy/docker/api.Dockerfile -t smsgw-api:0.1.0 .
# The runtime image holds the binary and CA certificates only (distroless), runs as an
# unprivileged user and works with a read-only root filesystem (nothing is written).

# ECS and the load balancers probe the service (/readyz, /healthz); the distroless runtime
# has no shell or curl for a Docker HEALTHCHECK.
#checkov:skip=CKV_DOCKER_2:Health is checked by the orchestrator (ALB /readyz, NLB /healthz), not by Docker.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# sqlx checks queries against the committed .sqlx cache (.cargo/config.toml sets
# SQLX_OFFLINE): no database is needed to build.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p smsgw-api --bin smsgw-api \
    && install -D -m 0755 target/release/smsgw-api /out/smsgw-api

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/smsgw-api /usr/local/bin/smsgw-api
USER 10001:10001
ENV SMSGW_HTTP_ADDR=0.0.0.0:8080 \
    SMSGW_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/smsgw-api"]
CMD ["serve"]
