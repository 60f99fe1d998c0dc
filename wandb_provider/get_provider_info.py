"""Provider registration for Airflow (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from . import __version__
from .hooks._extras import conn_fields, provider_ui_field_behaviour


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
                "python-modules": [
                    "wandb_provider.operators.artifacts",
                    "wandb_provider.operators.collections",
                    "wandb_provider.operators.lifecycle",
                    "wandb_provider.operators.produce",
                    "wandb_provider.operators.promote",
                    "wandb_provider.operators.resolve",
                    "wandb_provider.operators.retention",
                    "wandb_provider.operators.verify",
                ],
            }
        ],
        "sensors": [{"integration-name": "Weights & Biases", "python-modules": ["wandb_provider.sensors.artifacts"]}],
        "triggers": [
            {"integration-name": "Weights & Biases", "python-modules": ["wandb_provider.triggers.artifacts",
                                                                  "wandb_provider.triggers.events"]}
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
        "config": {
            "wandb": {
                "description": "Options of the Weights & Biases provider.",
                "options": {
                    "download_root": {
                        "description": (
                            "Absolute folder under which UseArtifactOperator makes its default download "
                            "folders, one per DAG run, task, map index and version. Empty: the environment "
                            "variable WANDB_PROVIDER_DOWNLOAD_ROOT, else <temp>/airflow-provider-wandb."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/data/airflow/wandb",
                        "default": "",
                    }
                },
            }
        },
        "connection-types": [
            {
                "connection-type": "wandb",
                "hook-class-name": "wandb_provider.hooks.wandb.WandbHook",
                "hook-name": "Weights & Biases",
                "conn-fields": conn_fields(),
                "ui-field-behaviour": provider_ui_field_behaviour(),
            }
        ],
    }
