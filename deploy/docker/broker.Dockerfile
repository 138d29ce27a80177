# syntax=docker/dockerfile:1
# smsgw-broker image. Build from the repository root:
#   docker build -f deploy/docker/broker.Dockerfile -t smsgw-broker:0.1.0 .
# Runs `smsgw-broker run --config /etc/smsgw/broker.toml` (deploy/docker/broker.toml:
# plain MQTT on 1883 and metrics on 9043, for a private network behind a TLS load
# balancer) as an unprivileged user; nothing is written, so the root filesystem can be
# read-only. SMSGW_JWT_SECRET comes from the environment.

# ECS and the load balancers probe the service (/readyz, /healthz); the distroless runtime
# has no shell or curl for a Docker HEALTHCHECK.
#checkov:skip=CKV_DOCKER_2:Health is checked by the orchestrator (ALB /readyz, NLB /healthz), not by Docker.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p smsgw-broker --bin smsgw-broker \
    && install -D -m 0755 target/release/smsgw-broker /out/smsgw-broker

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/smsgw-broker /usr/local/bin/smsgw-broker
COPY deploy/docker/broker.toml /etc/smsgw/broker.toml
USER 10001:10001
ENV SMSGW_LOG_FORMAT=json
EXPOSE 1883 9043
ENTRYPOINT ["/usr/local/bin/smsgw-broker"]
CMD ["run", "--config", "/etc/smsgw/broker.toml"]
