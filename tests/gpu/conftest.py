"""GPU tests reuse the integration fixtures: a local Ray and a real MLflow store."""

from tests.integration.conftest import local_ray, raygate_home, registry  # noqa: F401
