"""Intake's HTTP endpoint: POST /petitions with one JSON object, a JSON array, or JSON lines."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from .service import IntakeService, LineResult


def make_web_app(service: IntakeService) -> web.Application:
    async def petitions(request: web.Request) -> web.Response:
        text = await request.text()
        stripped = text.lstrip()
        if stripped.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                return web.json_response({"error": f"body is not JSON: {exc.msg}"}, status=400)
            text = "\n".join(json.dumps(i, ensure_ascii=False) for i in items)
        results: list[LineResult] = await asyncio.to_thread(service.submit_lines, text)
        body = {
            "registered": sum(r.status == "registered" for r in results),
            "duplicates": sum(r.status == "duplicate" for r in results),
            "rejected": sum(r.status == "rejected" for r in results),
            "results": [r.to_dict() for r in results],
        }
        status = 422 if results and body["rejected"] == len(results) else 200
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "cases": len(service.registry.by_key)})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/petitions", petitions)
    app.router.add_get("/healthz", health)
    return app
