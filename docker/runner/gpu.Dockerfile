# A runner image for GPU jobs: the official runner image plus the CUDA runtime's
# user-space tools. The GPU driver itself comes from Modal's host.
FROM ghcr.io/actions/actions-runner:2.334.0
RUN sudo apt-get update \
 && sudo apt-get install -y --no-install-recommends python3 python3-pip \
 && sudo rm -rf /var/lib/apt/lists/*
