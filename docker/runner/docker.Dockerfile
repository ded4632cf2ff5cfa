# The runner image with a Docker engine, for profiles with `docker: true` (Modal's VM
# runtime) or `docker: gvisor`: the official runner image (as in Dockerfile) plus
# Docker Engine, containerd, buildx and compose from Docker's own apt repository,
# at the versions pinned in docker/runner/versions.env. The sandbox's entrypoint
# starts dockerd as root and runs the runner as `runner`, a member of `docker`, so
# the job's steps use `docker` without sudo (see docs/docker.md).
#
# Modal builds it with no build context (RUN only, no COPY). The ARG lines after FROM
# take their values from versions.env, like the FROM line's.
ARG RUNNER_VERSION
ARG RUNNER_IMAGE_DIGEST
FROM ghcr.io/actions/actions-runner:${RUNNER_VERSION}@${RUNNER_IMAGE_DIGEST}
ARG DOCKER_VERSION
ARG CONTAINERD_VERSION
ARG BUILDX_VERSION
ARG COMPOSE_VERSION
USER root
# Docker's apt key, checked against the fingerprint Docker publishes
# (https://docs.docker.com/engine/install/ubuntu/): a swapped key fails the build.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg iptables \
 && install -m 0755 -d /etc/apt/keyrings \
 && curl -fsSL https://download.docker.com/linux/ubuntu/gpg -o /etc/apt/keyrings/docker.asc \
 && gpg --show-keys --with-colons /etc/apt/keyrings/docker.asc | grep -q '^fpr:*9DC858229FC7DD38854AE2D88D81803C0EBFCD88:' \
 && chmod a+r /etc/apt/keyrings/docker.asc \
 && echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu $(. /etc/os-release && echo "$VERSION_CODENAME") stable" > /etc/apt/sources.list.d/docker.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      "docker-ce=5:${DOCKER_VERSION}-*" "docker-ce-cli=5:${DOCKER_VERSION}-*" "containerd.io=${CONTAINERD_VERSION}-*" \
      "docker-buildx-plugin=${BUILDX_VERSION}-*" "docker-compose-plugin=${COMPOSE_VERSION}-*" \
 && rm -rf /var/lib/apt/lists/*
# The official image already has a `docker` group with `runner` in it; make sure of both.
RUN (getent group docker >/dev/null || groupadd docker) && usermod -aG docker runner
USER runner
