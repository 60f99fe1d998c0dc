"""Provider registration for Airflow (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from . import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-wandb",
        "name": "Weights & Biases",
        "description": "Consume, update, promote, verify and produce W&B Artifacts from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Weights & Biases",
                "external-doc-url": "https://docs.wandb.ai/guides/artifacts",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Weights & Biases", "python-modules": ["wandb_provider.hooks.wandb"]}],
        "operators": [
            {
                "integration-name": "Weights & Biases",
                "python-modules": ["wandb_provider.operators.artifacts", "wandb_provider.operators.retention"],
            }
        ],
        "sensors": [{"integration-name": "Weights & Biases", "python-modules": ["wandb_provider.sensors.artifacts"]}],
        "triggers": [
            {"integration-name": "Weights & Biases", "python-modules": ["wandb_provider.triggers.artifacts"]}
        ],
        "extra-links": ["wandb_provider.links.WandbArtifactLink"],
        "asset-uris": [
            {
                "schemes": ["wandb"],
                "handler": "wandb_provider.assets.sanitize_uri",
                "factory": "wandb_provider.assets.create_asset",
                "to_openlineage_converter": "wandb_provider.assets.convert_asset_to_openlineage",
            }
        ],
        "connection-types": [
            {
                "connection-type": "wandb",
                "hook-class-name": "wandb_provider.hooks.wandb.WandbHook",
                "hook-name": "Weights & Biases",
                "conn-fields": {
                    "entity": {
                        "label": "Entity",
                        "schema": {"type": ["string", "null"]},
                        "description": "Default entity (team or user) for paths that name none.",
                    },
                    "project": {
                        "label": "Project",
                        "schema": {"type": ["string", "null"]},
                        "description": "Default project for paths that name none.",
                    },
                    "timeout": {
                        "label": "Timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 60},
                        "description": "Read timeout of one request.",
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "default": 8},
                        "description": "Retries of transient failures (5xx, 429, timeouts).",
                    },
                    "verify_ssl": {
                        "label": "Verify TLS",
                        "schema": {"type": ["boolean", "string", "null"], "default": True},
                        "description": "true, false, or the path of a CA bundle.",
                    },
                    "cache_max_bytes": {
                        "label": "Cache size limit (bytes)",
                        "schema": {"type": ["integer", "null"]},
                        "description": "Evict least recently used cached files beyond this size (default: no limit).",
                    },
                    "cache_dir": {
                        "label": "Cache directory",
                        "schema": {"type": ["string", "null"]},
                        "description": "Content-addressed download cache (default ~/.cache/airflow-provider-wandb).",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "W&B base URL", "password": "API key"},
                    "placeholders": {"host": "https://api.wandb.ai", "entity": "my-team", "project": "my-project"},
                },
            }
        ],
    }
