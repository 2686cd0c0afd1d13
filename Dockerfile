# Gatehouse: reverse proxy and TLS terminator. `docker compose up` builds and runs it; see
# deploy/README.md. Works with BuildKit and the classic builder (DOCKER_BUILDKIT=0); every RUN,
# ENTRYPOINT and HEALTHCHECK is exec form because the base image has no shell.
#
# The base is the official distroless Deno image at the version pinned in deno.json
# ("engines.deno"; a test keeps them equal). Without a registry, build a local stand-in first:
#   deploy/offline/build_base_image.sh

# Stage 1: the npm packages Gatehouse loads, installed from deno.lock (--frozen) and trimmed to
# the module graph of the entrypoints (no test tools), plus the transpiled modules in DENO_DIR.
# Offline builds use the packages deploy/offline/seed_node_modules.sh put in
# deploy/docker/node_modules/; otherwise they are downloaded, trusting any CA certificate in
# deploy/docker/build-ca/ (for TLS-intercepting proxies). Neither reaches the final image.
FROM denoland/deno:distroless-2.9.6 AS deps
ENV DENO_DIR=/tmp/deno-dir/
WORKDIR /app
COPY deploy/docker/ ./
COPY deno.json deno.lock ./
COPY proxy/ proxy/
COPY certs/mkcert.ts certs/
RUN ["deno", "run", "--no-config", "--allow-read", "--allow-write", "--allow-env", "--allow-run", \
     "build_deps.ts", "--app", "/app", "--ca-dir", "build-ca", "--deno-dir", "/deno-dir", \
     "proxy/main.ts", "proxy/http/middlewares/password_worker.ts", "certs/mkcert.ts", \
     "healthcheck.ts"]
RUN ["deno", "eval", "Deno.mkdirSync('/empty')"]

# Stage 2: the runtime image. No shell, no package manager, not root.
FROM denoland/deno:distroless-2.9.6
ARG VERSION=dev
# The commit built, for --version and the start-up line: --build-arg REVISION=$(git rev-parse HEAD)
ARG REVISION=
LABEL org.opencontainers.image.title="Gatehouse" \
      org.opencontainers.image.description="Reverse proxy and TLS terminator on Deno" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="denoland/deno:distroless-2.9.6" \
      org.opencontainers.image.documentation="deploy/README.md"
# DENO_TOKIO_MAX_IO_EVENTS_PER_TICK: fewer socket wake-ups per event-loop turn keep the tail flat
# with hundreds of busy connections (docs/runtime.md, section 1); for every isolate, the first too.
# DENO_USE_CGROUPS: V8's heap sized by the container's memory limit, not the host's memory
# (docs/known-limits.md: cgroup v2 only in Deno 2.9).
# DENO_NO_UPDATE_CHECK: otherwise every `deno run` (each start, each health check) asks
# dl.deno.land for Deno's latest version: an edge opens no connection of its own.
ENV DENO_DIR=/deno-dir/ \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_TOKIO_MAX_IO_EVENTS_PER_TICK=32 \
    DENO_USE_CGROUPS=1 \
    GATEHOUSE_COMMIT=${REVISION} \
    GATEHOUSE_CONFIG=/config/gatehouse.yaml \
    NO_COLOR=1
COPY --from=deps /deno-dir/ /deno-dir/
COPY --from=deps /app/deno.json /app/deno.lock /app/healthcheck.ts /app/
COPY --from=deps /app/node_modules/ /app/node_modules/
COPY --from=deps /app/certs/ /app/certs/
COPY --from=deps /app/proxy/ /app/proxy/
COPY config/gatehouse.yaml /config/gatehouse.yaml
COPY --from=deps --chown=1993:1993 /empty/ /certs/
WORKDIR /app
USER 1993:1993
VOLUME ["/config", "/certs"]
# The ports of the default config: 8080 HTTP (redirects to HTTPS), 8443 HTTPS, 7000 TCP (the
# demo echo service), 9901 admin (/healthz, /readyz, /metrics).
EXPOSE 8080 8443 7000 9901
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["deno", "run", "--no-config", "--cached-only", "--allow-net", \
       "--allow-env=GATEHOUSE_ADMIN_ADDRESS", "/app/healthcheck.ts"]
# Permissions: net (listen, upstreams, a Docker API proxy), read of the config and certificates and
# of /app (Deno checks the modules of a Worker: the worker isolates of `workers` and basic_auth's
# password worker), write of /certs (development certificates on first start), the Docker socket
# when one is mounted (connecting to a unix socket takes read and write permission: Gatehouse sends
# it only GET), and environment variables: GATEHOUSE_* (config references, admin token), LOG_TOKENS
# and LOG_STREAM (read by the yaml package), DENO_SERVE_AUTOMATIC_COMPRESSION (removed at start so
# that hyper never compresses on its own) and DENO_TOKIO_MAX_IO_EVENTS_PER_TICK (read by
# app/workers.ts); FFI to the C library only (amd64 and arm64 paths), to set TCP_NODELAY on TLS
# listeners, which Deno cannot (proxy/internal/tcp_nodelay.ts). The V8 flag: proxy/internal/v8_flags.ts.
ENTRYPOINT ["deno", "run", "--config=/app/deno.json", "--cached-only", "--frozen", "--no-prompt", \
            "--v8-flags=--no-allocation-site-pretenuring", \
            "--allow-net", \
            "--allow-read=/config,/certs,/var/run/docker.sock,/app", \
            "--allow-write=/certs,/var/run/docker.sock", \
            "--allow-env=GATEHOUSE_*,LOG_TOKENS,LOG_STREAM,DENO_SERVE_AUTOMATIC_COMPRESSION,DENO_TOKIO_MAX_IO_EVENTS_PER_TICK", \
            "--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6,/lib/aarch64-linux-gnu/libc.so.6", \
            "/app/proxy/main.ts"]
CMD ["--ensure-dev-certs", "/certs"]
