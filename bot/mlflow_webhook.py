"""`POST /mlflow/webhook`: MLflow model-registry webhooks make the bot reconcile at once.

When someone moves an alias by hand in MLflow, the registry tells the bot (MLflow 3 `model_version_alias.*`
events); the delivery is verified, stored in the same durable queue as GitHub's, and handled by
`bot.handlers.registry` which queues a reconcile of the repository that owns the model.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.core.signature import refuse_mlflow_headers, verify_mlflow
from bot.intake import BodyReader, BodyRefused
from bot.settings import Settings

EVENT = "mlflow"

# A refusal, as every endpoint of the bot answers one (documented for the bot's OpenAPI description).
ERROR_RESPONSE: dict[str, Any] = {
    "description": "Refused; `error` says why and what to do.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string", "minLength": 1}},
            }
        }
    },
}


def mlflow_router(settings: Settings, store: Any, *, reader: BodyReader | None = None) -> APIRouter:
    """The route; `reader` (shared with /webhook, so both count against one bound of large bodies)."""
    router = APIRouter()
    reader = reader or BodyReader(settings.max_body_bytes)
    secrets = [
        s.strip().encode() for s in settings.mlflow_webhook_secret.get_secret_value().split(",") if s.strip()
    ]

    @router.post(
        "/mlflow/webhook",
        status_code=202,
        summary="MLflow model-registry webhook",
        responses={
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            408: ERROR_RESPONSE,
            413: ERROR_RESPONSE,
            503: ERROR_RESPONSE,
        },
    )
    async def mlflow_webhook(request: Request) -> JSONResponse:
        headers = request.headers
        delivery_id = headers.get("x-mlflow-delivery-id")
        # Refuse what the headers alone decide before reading the body (issue 18: 400 MB -> 1.2 GB RSS).
        refused = refuse_mlflow_headers(
            delivery_id=delivery_id,
            timestamp=headers.get("x-mlflow-timestamp"),
            header=headers.get("x-mlflow-signature"),
            secrets=secrets,
            now=time.time(),
        )
        if refused is not None:
            return JSONResponse({"error": refused.reason}, status_code=401)
        try:
            body = await reader.read_request(request)
        except BodyRefused as error:
            return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)
        checked = verify_mlflow(
            body,
            delivery_id=delivery_id,
            timestamp=headers.get("x-mlflow-timestamp"),
            header=headers.get("x-mlflow-signature"),
            secrets=secrets,
            now=time.time(),
        )
        if not checked.ok:
            return JSONResponse({"error": checked.reason}, status_code=401)
        try:
            event = json.loads(body)
            entity, action = str(event["entity"]), str(event["action"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": "body must be an MLflow webhook JSON object with entity and action"},
                status_code=400,
            )
        fresh = store.accept(f"mlflow:{delivery_id}", EVENT, f"{entity}.{action}", body)
        return JSONResponse(
            {"delivery": delivery_id, "status": "queued" if fresh else "duplicate"}, status_code=202
        )

    return router
