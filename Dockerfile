# leasefence container image: built on Debian bookworm, run from a root that
# holds only the binary and the Debian packages it needs.
#   make image                                      (podman, bases made locally; see README)
#   docker build -t leasefence:$(cat VERSION) .     (anywhere debian:bookworm can be pulled)
# Pin the base image by digest in your registry mirror if you need
# reproducible builds (debian:bookworm@sha256:...).
#
# Why a root made by hand and not `FROM debian:bookworm-slim` + apt-get: slim
# brings the Essential set (bash, dash, coreutils, perl-base, dpkg, apt...),
# which can't be removed with apt, and the image was 93 MB.  mmdebstrap
# --variant=custom would pick the packages but needs a tool and privileges an
# ordinary `docker build` doesn't have (mounts, or a chroot-less dpkg run), and
# runs maintainer scripts that need a shell.  Instead, the `rootfs` stage
# extracts the runtime libraries and their dependency closure with dpkg-deb
# (tests/image/rootfs.sh) and the last stage copies that root into an empty image.

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
# The build context has no .git: `make image` passes the commit.
ARG LEASEFENCE_COMMIT=
RUN make LEASEFENCE_COMMIT="$LEASEFENCE_COMMIT" build/leasefence && strip build/leasefence

# --- runtime root ------------------------------------------------------------
# The shared libraries the binary links (the runtime packages of the -dev
# packages above) with their dependencies, and the CA bundle.
FROM debian:bookworm AS rootfs
COPY tests/image/rootfs.sh /usr/local/sbin/rootfs.sh
RUN rootfs.sh /rootfs libh2o-evloop0.13 libjansson4 libcurl4 libssl3 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/*

# --- runtime -----------------------------------------------------------------
# No shell in here: the Deployment's preStop hook is the kubelet's own `sleep`
# action (Kubernetes 1.30+), not an exec.
FROM scratch
COPY --from=rootfs /rootfs/ /
COPY --from=build /src/build/leasefence /usr/local/bin/leasefence
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/leasefence"]
CMD ["serve", "--config", "/etc/leasefence/config/config.json", "--tls-cert", "/etc/leasefence/tls/tls.crt", "--tls-key", "/etc/leasefence/tls/tls.key"]
