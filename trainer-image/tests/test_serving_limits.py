"""Hostile bodies, in-process: the size cap while reading, the read deadline, the bounds on
what is in flight, and a 400 with the ``{"error": ...}`` shape for every malformed body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.intake import Limits
from modelpipe_trainer.serving.predictor import ServedModel

ENDPOINTS = ["/predict", "/v2/models/iris/infer"]


def _client(bundle: ServedModel, limits: Limits) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(bundle, name="iris", limits=limits))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _chunks(
    *parts: bytes, hold: asyncio.Event | None = None, reading: asyncio.Event | None = None
) -> AsyncIterator[bytes]:
    """The parts, then (when ``hold`` is given) a wait that keeps the body unfinished."""
    for part in parts:
        yield part
    if reading is not None:
        reading.set()  # the server asked for more: it is reading this body
    if hold is not None:
        await hold.wait()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_declared_length_over_the_cap_is_413(
    iris_served: ServedModel, endpoint: str
) -> None:
    async with _client(iris_served, Limits(max_body_bytes=1000)) as http:
        response = await http.post(endpoint, content=b"x" * 1001)
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["error"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_streamed_body_over_the_cap_is_413_while_reading(
    iris_served: ServedModel, endpoint: str
) -> None:
    never = asyncio.Event()  # the rest never comes: the cap must fire on what arrived
    async with _client(iris_served, Limits(max_body_bytes=1000)) as http:
        body = _chunks(b"[" * 600, b"[" * 600, hold=never)
        response = await http.post(endpoint, content=body)
    assert response.status_code == 413


async def test_a_body_that_never_finishes_is_408(iris_served: ServedModel) -> None:
    async with _client(iris_served, Limits(read_timeout_seconds=0.05)) as http:
        response = await http.post("/predict", content=_chunks(b"{", hold=asyncio.Event()))
    assert response.status_code == 408
    assert "took longer than 0.05s" in response.json()["error"]


async def test_requests_past_the_in_flight_bound_are_503(iris_served: ServedModel) -> None:
    release, reading = asyncio.Event(), asyncio.Event()
    async with _client(iris_served, Limits(max_in_flight=1)) as http:
        body = _chunks(b'{"instances": ', hold=release, reading=reading)
        held = asyncio.create_task(http.post("/predict", content=body))
        await reading.wait()
        refused = await http.post("/predict", json={"instances": []})
        assert (await http.get("/v2/health/ready")).status_code == 200
        release.set()
        assert refused.status_code == 503
        assert "busy (1 requests in flight)" in refused.json()["error"]
        assert (await held).status_code == 400  # the held body was incomplete JSON


async def test_bodies_past_the_buffer_bound_are_503(iris_served: ServedModel) -> None:
    async with _client(iris_served, Limits(buffer_bytes=1000)) as http:
        response = await http.post("/predict", content=b" " * 1500)
    assert response.status_code == 503


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 100_000, "nested too deeply"),
        (b'{"instances": [{"sepal_length": ' + b"7" * 5000 + b"}]}", "4300 digits"),
        (b'{"instances": "\xff"}', "not UTF-8"),
        (b"", "not valid JSON"),
        (b"[]" + b"]" * 10, "Extra data"),
    ],
)
async def test_malformed_bodies_are_400(
    iris_client: httpx.AsyncClient, endpoint: str, body: bytes, expected: str
) -> None:
    response = await iris_client.post(endpoint, content=body)
    assert response.status_code == 400
    assert expected in response.json()["error"]


async def test_deeply_nested_values_in_a_valid_request_are_400(
    iris_client: httpx.AsyncClient,
) -> None:
    deep = "[" * 900 + "1" + "]" * 900
    body = '{"instances": [{"sepal_length": ' + deep + "}]}"
    response = await iris_client.post("/predict", content=body)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


@pytest.fixture(scope="module")
def post(iris_served: ServedModel) -> Iterator[Callable[..., httpx.Response]]:
    """A synchronous POST to one in-process app (hypothesis drives sync tests)."""
    transport = httpx.ASGITransport(app=create_app(iris_served, name="iris"))
    with asyncio.Runner() as runner:
        http = httpx.AsyncClient(transport=transport, base_url="http://test")
        yield lambda *args, **kwargs: runner.run(http.post(*args, **kwargs))
        runner.run(http.aclose())


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_tensor = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["sepal_length", "petal_width", "x"]) | _json,
        "shape": st.lists(st.integers(-1, 5), max_size=3) | _json,
        "datatype": st.sampled_from(["FP64", "BYTES", "BF16"]) | _json,
        "data": st.lists(st.floats() | st.text(max_size=3) | _json, max_size=8),
        "parameters": st.dictionaries(st.sampled_from(["binary_data_size"]), _json),
    },
)
_bodies = st.one_of(
    st.binary(max_size=64),
    _json.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"inputs": st.lists(_tensor, max_size=5)},
        optional={"outputs": _json, "parameters": _json, "id": _json},
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies, endpoint=st.sampled_from(ENDPOINTS), binary=st.booleans())
def test_fuzzed_bodies_get_an_answer_never_a_500(
    post: Callable[..., httpx.Response], body: bytes, endpoint: str, binary: bool
) -> None:
    headers = {"Inference-Header-Content-Length": str(len(body))} if binary else {}
    response = post(endpoint, content=body, headers=headers)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert set(response.json()) == {"error"}
