"""The Serve application builder: `import_path: raygate.serving.app:build_app` in a Serve
config, or `raygate serve up`. Args are structural; values live in user_configs."""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from raygate.errors import ConfigError
from raygate.schemas import validate_mapping
from raygate.serving.model import ModelVariant
from raygate.serving.router import Router
from raygate.serving.settings import (
    ROUTER_DEPLOYMENT,
    AppArgs,
    RouterSettings,
    default_variant_config,
)


def build_app(args: dict[str, Any]) -> Application:
    """Router ingress + one ModelVariant deployment per variant named in args.

    Each deployment's user_config in the Serve config overrides the defaults set here:
    variants serve `models:/<model_name>@champion` and `@candidate`, the canary gets 0 %.
    """
    app_args = validate_mapping(args, AppArgs, ConfigError, "application args")
    variants = {
        name: ModelVariant.options(
            name=name,
            user_config=default_variant_config(app_args.model_name, name),
        ).bind(name)
        for name in app_args.variants
    }
    router = Router.options(name=ROUTER_DEPLOYMENT, user_config=RouterSettings().model_dump())
    return router.bind(
        model_name=app_args.model_name,
        handle_options=app_args.model_calls.handle_options(),
        **variants,
    )
