"""A service's View across its workers: what the others own is asked of them (over HTTP, as the
ledger API does), and a worker that cannot be asked makes the answer a 503 with the cause."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from liandong.api import Api, Call, json_response
from liandong.service import OWNED_PATH, Entry, Peers, Table, View, _serve_owned, peers_unavailable
from liandong.tokens import PEER_HEADER, TokenStore

TABLE = Table("things", {})


def _store(*keys: str) -> dict[bytes, bytes]:
    return {k.encode(): TABLE.dump(Entry({"key": k}, [])) for k in keys}


class Split(Peers):
    """This worker owns keys starting with 'a'; the other worker (at ``url``) the rest."""

    def __init__(self, url: str) -> None:
        self.url = url

    def owner(self, table: str, key: str) -> str | None:
        return None if key.startswith("a") else self.url

    def others(self) -> list[str]:
        return [self.url]

    def mine(self) -> Callable[[bytes], bool]:
        return lambda key: key.startswith(b"a")


class Other(Peers):
    def mine(self) -> Callable[[bytes], bool]:
        return lambda key: not key.startswith(b"a")


@pytest.fixture
def tokens(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json")  # the workers of one service share it (and its peer key)


def _view(tokens: TokenStore, store: dict[bytes, bytes], peers: Peers | None = None) -> View:
    return View({TABLE.name: (TABLE, store)}, peers, peer_key=lambda: tokens.peer_key)


def _api(tokens: TokenStore, view: View) -> web.Application:
    api = Api("things", "Things", "A test API.")

    @api.get("/all", "Every thing.", response=None, allow=None)
    async def everything(_: Call) -> web.Response:
        return json_response(sorted(s["key"] for s in await view.everywhere(TABLE.name)))

    _serve_owned(api, view)
    return api.application(tokens, middlewares=[peers_unavailable])


def test_everywhere_is_what_each_worker_owns_not_its_standby_copies(tokens: TokenStore) -> None:
    async def run() -> Any:
        # Both hold every key (own + standby copy); each owns half.
        other = _view(tokens, _store("a1", "b1", "b2"), Other())
        async with TestServer(_api(tokens, other)) as server:
            here = _view(tokens, _store("a1", "b1", "b2"), Split(str(server.make_url("")).rstrip("/")))
            async with TestClient(TestServer(_api(tokens, here))) as client:
                response = await client.get("/all")
                return response.status, await response.json()

    assert asyncio.run(run()) == (200, ["a1", "b1", "b2"])


def test_a_worker_that_cannot_be_asked_makes_the_answer_unavailable_not_partial(tokens: TokenStore) -> None:
    async def run() -> Any:
        here = _view(tokens, _store("a1", "b1"), Split("http://127.0.0.1:1"))  # nothing listens there
        async with TestClient(TestServer(_api(tokens, here))) as client:
            response = await client.get("/all")
            return response.status, response.headers.get("Retry-After"), await response.json()

    status, retry, body = asyncio.run(run())
    assert (status, retry) == (503, "1")
    assert "http://127.0.0.1:1" in body["error"] and "ask again" in body["error"]


def test_a_single_worker_answers_from_what_it_has() -> None:
    view = View({TABLE.name: (TABLE, _store("a1", "b1"))})
    assert sorted(s["key"] for s in asyncio.run(view.everywhere(TABLE.name))) == ["a1", "b1"]
    assert view.owner(TABLE.name, "b1") is None
    assert json.loads(view.owned_raw(TABLE.name)[0])["state"] == {"key": "a1"}


def test_what_a_worker_owns_is_told_only_to_the_workers_of_its_service(tokens: TokenStore) -> None:
    async def run() -> Any:
        async with TestClient(TestServer(_api(tokens, _view(tokens, _store("a1"), Other())))) as client:
            path = OWNED_PATH.format(table=TABLE.name)
            stranger = await client.get(path)
            wrong = await client.get(path, headers={PEER_HEADER: "guess"})
            peer = await client.get(path, headers={PEER_HEADER: tokens.peer_key})
            return stranger.status, wrong.status, peer.status

    assert asyncio.run(run()) == (403, 403, 200)
