"""A trivial ASGI endpoint for load-generator benchmarks: POST or GET any path → a small JSON
answer shaped like raygate's predict response. Run: python benchmarks/trivial_server.py PORT"""

from __future__ import annotations

import sys

import uvicorn

BODY = b'{"answer":"ok","variant":"champion","model_id":"trivial@1","tokens_in":3,"tokens_out":1}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the whole request body
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, loop="uvloop", http="httptools")  # fmt: skip
