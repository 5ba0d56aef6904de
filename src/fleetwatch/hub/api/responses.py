"""`JSONResponse`: the hub's JSON response class (orjson; FastAPI's own `ORJSONResponse` is
deprecated and warns on every use). Routers return `JSONResponse(content)` on hot paths to skip
FastAPI's `jsonable_encoder`; it is also the app's default response class.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
