# leasefence container image: Debian bookworm, built with the project's Makefile.
#   docker build -t leasefence:$(cat VERSION) .
# Pin the base images by digest in your registry mirror if you need
# reproducible builds (debian:bookworm@sha256:...).

# --- build -----------------------------------------------------------------
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libh2o-evloop-dev libjansson-dev libcurl4-openssl-dev libssl-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what `make build/leasefence` reads (tests/integration/test_manifests.sh
# checks that these suffice by building from a copy of just these paths).
COPY Makefile VERSION ./
COPY elector/ elector/
COPY server/ server/
RUN make build/leasefence && strip build/leasefence

# --- runtime ---------------------------------------------------------------
# Only the shared libraries the binary links (the runtime packages of the -dev
# packages above) and the CA roots; /bin/sleep (coreutils) serves the
# Deployment's preStop hook.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libh2o-evloop0.13 libjansson4 libcurl4 libssl3 libyaml-0-2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 leasefence \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin leasefence
COPY --from=build /src/build/leasefence /usr/local/bin/leasefence
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/leasefence"]
CMD ["serve", "--config", "/etc/leasefence/config/config.json", "--tls-cert", "/etc/leasefence/tls/tls.crt", "--tls-key", "/etc/leasefence/tls/tls.key"]
