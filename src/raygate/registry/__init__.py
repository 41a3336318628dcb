"""Model registry: a small protocol, raygate's alias history, and the MLflow implementation."""

from raygate.registry.protocol import AliasChange, ModelRegistry, ModelVersion

__all__ = ["AliasChange", "ModelRegistry", "ModelVersion"]
