"""The OpenAPI schema is complete, and no request built from it, well-formed or not, with a
valid token or without, makes the server answer 5xx or a status the schema does not document.

(schemathesis is not installed: requests are drawn with hypothesis strategies built here from
the schema's JSON Schemas. Cases are generated up front, then sent, so the async client stays
out of hypothesis's way; failures are reported with the request that caused them.)"""

from __future__ import annotations

import importlib
import json
import pkgutil
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kadath_web import WebApp, create_character, register

from kadath.bootstrap import create_app
from kadath.settings import Settings
from kadath.web import routes

Schema = dict[str, Any]
EXAMPLES = 30  # per operation, for each of the valid and the invalid inputs
METHODS = ("get", "post", "put", "patch", "delete")


def _spec() -> Schema:
    spec: Schema = create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return spec


SPEC = _spec()
OPERATIONS = [(m, p) for p, item in SPEC["paths"].items() for m in item if m in METHODS]


# -- the schema is complete --------------------------------------------------------------------


def resolve(schema: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = {
            **SPEC["components"]["schemas"][name],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    return schema


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield str(node["$ref"])
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_api_route_is_in_the_schema() -> None:
    documented = {(m.upper(), p) for m, p in OPERATIONS}
    routed = set()
    for module in pkgutil.iter_modules(routes.__path__):
        router = importlib.import_module(f"{routes.__name__}.{module.name}").router
        app = FastAPI()
        router.install(app)
        for route in app.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                routed |= {(m, route.path) for m in route.methods}
    assert routed == documented
    assert all(p.startswith("/api/") for _, p in documented)


def test_every_reference_in_the_schema_resolves() -> None:
    components = SPEC["components"]["schemas"]
    for ref in refs(SPEC):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in components, ref


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_is_documented(method: str, path: str) -> None:
    op = SPEC["paths"][path][method]
    assert op.get("summary") and op.get("description"), "a summary and a docstring"
    assert op.get("tags"), "a tag"
    responses = op["responses"]
    successes = [code for code in responses if code.startswith("2")]
    assert len(successes) == 1, responses
    for code, response in responses.items():
        assert response.get("description"), code
        if code == "204":
            assert "content" not in response
            continue
        content = response.get("content", {})
        assert "application/json" in content, (code, "needs a JSON body schema")
        assert content["application/json"].get("schema"), code
    if op.get("security"):
        assert "401" in responses, "secured operations document 401"
    if op.get("parameters") or op.get("requestBody"):
        assert "422" in responses, "operations taking input document 422"
    for parameter in op.get("parameters", []):
        assert parameter.get("schema"), parameter["name"]
    body = op.get("requestBody")
    if body is not None:
        assert body.get("required") is True
        for media in body["content"].values():
            assert resolve(media["schema"]).get("properties"), "a body schema with its fields"


def test_the_schema_declares_the_bearer_scheme() -> None:
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/auth/login"


# -- strategies from JSON Schema ---------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def valid(schema: Schema) -> st.SearchStrategy[Any]:
    """Values the schema accepts (as far as its constraints say)."""
    schema = resolve(schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([valid(s) for s in schema[key]])
    if "allOf" in schema:
        return valid({k: v for s in schema["allOf"] for k, v in resolve(s).items()})
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.integers(None if low is None else int(low), None if high is None else int(high))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(valid(schema.get("items", {})), max_size=4)
    if kind == "object":
        return _object(schema)
    return ANY_JSON


def _string(schema: Schema) -> st.SearchStrategy[str]:
    if schema.get("format") == "uuid":
        return st.uuids().map(str)
    if schema.get("pattern") == "^password$":
        return st.just("password")
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    plain = st.text(string.ascii_letters + string.digits + "_.-", min_size=low, max_size=high)
    return plain | st.text(min_size=low, max_size=high)


def _object(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {k: valid(v) for k, v in properties.items() if k in required},
        optional={k: valid(v) for k, v in properties.items() if k not in required},
    )


def invalid(schema: Schema) -> st.SearchStrategy[Any]:
    """Values most likely refused: any JSON at all, a required field dropped, a field with a
    value of the wrong type or out of its bounds."""
    schema = resolve(schema)
    options: list[st.SearchStrategy[Any]] = [ANY_JSON]
    properties = schema.get("properties")
    if properties:
        keys = sorted(properties)
        required = sorted(set(schema.get("required", ())))

        def drop(obj: dict[str, Any], key: str) -> dict[str, Any]:
            return {k: v for k, v in obj.items() if k != key}

        if required:
            options.append(
                st.tuples(valid(schema), st.sampled_from(required)).map(lambda t: drop(*t))
            )
        options.append(
            st.tuples(valid(schema), st.sampled_from(keys), ANY_JSON | _out_of_bounds()).map(
                lambda t: {**t[0], t[1]: t[2]}
            )
        )
    return st.one_of(options)


def _out_of_bounds() -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [-1, 0, 2**31, 2**63, -(2**63) - 1, 10**30, "", "x" * 5000, "\x00", "\ud7ff\x00", 1.5e308]
    )


# -- cases -------------------------------------------------------------------------------------


@dataclass
class Case:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json_body: Any = None
    form: dict[str, str] | None = None
    raw: bytes | None = None

    def describe(self) -> str:
        body = self.json_body if self.raw is None else self.raw[:80]
        return (
            f"{self.method.upper()} {self.path} params={self.params} json={body!r} form={self.form}"
        )


@dataclass
class Pools:
    """Real ids, so generated requests also reach past the 404s."""

    players: list[str]
    containers: list[str]
    rooms: list[str]


def case_strategy(method: str, path: str, pools: Pools, *, good: bool) -> st.SearchStrategy[Case]:
    op = SPEC["paths"][path][method]
    path_values: dict[str, st.SearchStrategy[str]] = {}
    query: dict[str, st.SearchStrategy[Any]] = {}
    for parameter in op.get("parameters", []):
        name, schema = parameter["name"], parameter["schema"]
        if good:
            drawn = valid(schema).map(lambda v: json.dumps(v) if isinstance(v, bool) else v)
            known = _known(name, pools)
            strategy: st.SearchStrategy[Any] = drawn | st.sampled_from(known) if known else drawn
        else:
            strategy = st.text(min_size=1).filter(
                lambda s: s.strip(".") != ""
            ) | _out_of_bounds().map(str)
        if parameter["in"] == "path":
            path_values[name] = strategy.filter(lambda v: str(v).strip(".") != "")
        elif parameter.get("required") or not good:
            query[name] = strategy
        else:
            query[name] = st.none() | strategy
    body = op.get("requestBody", {}).get("content", {})

    def build(path_args: dict[str, Any], params: dict[str, Any], payload: Any) -> Case:
        return build_case(method, path, path_args, params, payload)

    payload: st.SearchStrategy[Any] = st.none()
    for media, content in body.items():
        schema = content["schema"]
        payload = valid(schema) if good else invalid(schema)
        if not good and media == "application/json":
            payload = payload | st.binary(max_size=40) | st.just(b"{")
    return st.builds(
        build, st.fixed_dictionaries(path_values), st.fixed_dictionaries(query), payload
    )


def build_case(
    method: str, path: str, path_args: dict[str, Any], params: dict[str, Any], payload: Any
) -> Case:
    body = SPEC["paths"][path][method].get("requestBody", {}).get("content", {})
    url = path
    for name, value in path_args.items():
        url = url.replace("{" + name + "}", quote(str(value), safe=""))
    case = Case(method, url, {k: v for k, v in params.items() if v is not None})
    if "application/json" in body:
        if isinstance(payload, bytes):
            case.raw = payload
        else:
            case.json_body = payload
    elif "application/x-www-form-urlencoded" in body and isinstance(payload, dict):
        case.form = {str(k): str(v) for k, v in payload.items() if v is not None}
    return case


# Deterministic extremes, sent on every run whatever hypothesis draws (its draws vary with the
# modules loaded): every string, integer or flag of the request set to one of these at once.
EXTREMES: list[dict[str, Any]] = [
    {"string": "ke\x00per", "integer": 1, "boolean": True},  # PostgreSQL refuses NUL in text
    {"string": "\u202e" + "é" * 40 + "\U0001f419", "integer": 2**31, "boolean": False},
    {"string": "x" * 5000, "integer": 2**63, "boolean": True},
    {"string": "' OR 1=1 --", "integer": -1, "boolean": False},
]


def extreme(schema: Schema, values: dict[str, Any]) -> Any:
    """The schema's shape with every leaf set to ``values`` of its type (ignoring limits)."""
    schema = resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if resolve(s).get("type") != "null"]
            return extreme(options[0], values) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("pattern") == "^password$":  # OAuth2's grant_type: keep the form readable
        return "password"
    kind = schema.get("type")
    if kind == "object":
        return {k: extreme(v, values) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [extreme(schema.get("items", {}), values)]
    if kind == "number":
        return float(values["integer"])
    return values.get(str(kind), values["string"])


def extreme_cases(method: str, path: str) -> list[Case]:
    op = SPEC["paths"][path][method]
    cases = []
    for values in EXTREMES:
        args: dict[str, dict[str, Any]] = {"path": {}, "query": {}}
        for parameter in op.get("parameters", []):
            value = extreme(parameter["schema"], values)
            args[parameter["in"]][parameter["name"]] = (
                json.dumps(value) if isinstance(value, bool) else value
            )
        payload = None
        for content in op.get("requestBody", {}).get("content", {}).values():
            payload = extreme(content["schema"], values)
        cases.append(build_case(method, path, args["path"], args["query"], payload))
    return cases


def _known(name: str, pools: Pools) -> list[str]:
    return {
        "player_id": pools.players,
        "container_id": pools.containers,
        "room_id": pools.rooms,
    }.get(name, [])


def generate(strategy: st.SearchStrategy[Case], count: int) -> list[Case]:
    """Draw ``count`` cases (reproducibly) without running the async client inside hypothesis."""
    drawn: list[Case] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    collect()
    return drawn


# -- fuzzing -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def pools_and_tokens(module_app: WebApp) -> tuple[Pools, dict[str, str | None]]:
    client = module_app.client
    admin = await register(client, "keeper")
    user = await register(client)
    players = [(await create_character(client, user))["id"] for _ in range(3)]
    async with module_app.app.state.runtime.persistence.unit_of_work() as uow:
        containers = [
            str(c.id)
            for c in await uow.containers.get_containers_in_room("arkham.boarding_house_cellar")
        ]
    rooms = sorted(module_app.app.state.runtime.game.world.rooms)[:5]
    tokens: dict[str, str | None] = {
        "admin": admin.token,
        "user": user.token,
        "none": None,
        "garbage": "not-a-token",
    }
    return Pools(players, containers, rooms), tokens


async def send(client: httpx2.AsyncClient, case: Case, token: str | None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if case.raw is not None:
        headers["Content-Type"] = "application/json"
        return await client.request(
            case.method, case.path, params=case.params, content=case.raw, headers=headers
        )
    if case.form is not None:
        return await client.request(
            case.method, case.path, params=case.params, data=case.form, headers=headers
        )
    return await client.request(
        case.method, case.path, params=case.params, json=case.json_body, headers=headers
    )


def takes_json(method: str, path: str) -> bool:
    body = SPEC["paths"][path][method].get("requestBody", {})
    return "application/json" in body.get("content", {})


JSON_BODY_OPERATIONS = [(m, p) for m, p in OPERATIONS if takes_json(m, p)]


@pytest.mark.parametrize(
    ("method", "path"), JSON_BODY_OPERATIONS, ids=[f"{m} {p}" for m, p in JSON_BODY_OPERATIONS]
)
def test_operations_taking_json_document_the_400_for_a_body_that_is_not_utf8(
    method: str, path: str
) -> None:
    assert "400" in SPEC["paths"][path][method]["responses"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_no_generated_request_gets_a_server_error_or_an_undocumented_status(
    module_app: WebApp,
    pools_and_tokens: tuple[Pools, dict[str, str | None]],
    method: str,
    path: str,
) -> None:
    pools, tokens = pools_and_tokens
    documented = set(SPEC["paths"][path][method]["responses"])
    cases = generate(case_strategy(method, path, pools, good=True), EXAMPLES)
    cases += generate(case_strategy(method, path, pools, good=False), EXAMPLES)
    cases += extreme_cases(method, path)
    failures: list[str] = []
    for n, case in enumerate(cases):
        # each case with a valid token (user or admin in turn) and without one (none or garbage)
        for who in (("user", "admin")[n % 2], ("none", "garbage")[n % 2]):
            response = await send(module_app.client, case, tokens[who])
            status = response.status_code
            if status >= 500 or str(status) not in documented:
                failures.append(f"{status} as {who}: {case.describe()} -> {response.text[:200]}")
    assert not failures, f"{len(failures)} bad answers, e.g.:\n" + "\n".join(failures[:10])


def test_hypothesis_strategies_respect_the_schemas() -> None:
    """The generator itself: valid bodies meet the length and range limits of their schema."""
    register_schema = SPEC["paths"]["/api/auth/register"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    for body in generate(valid(register_schema).map(lambda b: Case("post", "/", json_body=b)), 50):
        assert 3 <= len(body.json_body["username"]) <= 32
        assert 8 <= len(body.json_body["password"]) <= 128
    player_schema = resolve({"$ref": "#/components/schemas/PlayerCreateIn"})
    for body in generate(valid(player_schema).map(lambda b: Case("post", "/", json_body=b)), 50):
        assert 1 <= body.json_body["profession_id"] <= 1_000_000
        stats = body.json_body.get("stats")
        assert stats is None or all(1 <= v <= 30 for v in stats.values())
    assert uuid.UUID(generate(_string({"format": "uuid"}).map(lambda s: Case("get", s)), 1)[0].path)
