# A runner image for GPU jobs: the official runner image plus Python 3 with pip and
# venv, which is what GPU frameworks install into (PyTorch, JAX and TensorFlow wheels
# bring their own CUDA libraries). The GPU driver and `nvidia-smi` come from Modal's
# host; this image installs no CUDA toolkit (no nvcc): add it here if your jobs
# compile CUDA code. Version and digest: docker/runner/versions.env.
ARG RUNNER_VERSION
ARG RUNNER_IMAGE_DIGEST
FROM ghcr.io/actions/actions-runner:${RUNNER_VERSION}@${RUNNER_IMAGE_DIGEST}
RUN sudo apt-get update \
 && sudo apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
 && sudo rm -rf /var/lib/apt/lists/*
