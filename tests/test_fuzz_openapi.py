"""Every operation of our own OpenAPI document, fuzzed by schemathesis: no input gets a 5xx, and every answer is
one the document declares for that operation — its status code (`status_code_conformance`), its media type
(`content_type_conformance`) and its body's schema (`response_schema_conformance`). An answer the route gives but
does not declare is fixed in the route's `responses=` (or services.api.openapi for what every body route can
answer), never by dropping a check. The document comes from `create_app`, so a new route is fuzzed without anyone
adding it here.

How: schemathesis generates the cases (hypothesis, derandomized: the same cases on every run), positive ones
(valid by the schema) and negative ones (invalid), a fixed number per operation; this test sends them to the
app in its own event loop (the app's database pool lives there) with an admin key and with a viewer key of one
seeded organisation. Half of the cases of an operation with ids in its path name that organisation's real
objects, so the routes get past their lookups. Reads run first and deletions last, so the objects are there
for most of the run.

Every failure is collected (not only the first): the assertion lists them all, with the exception of a 500.
FUZZ_EXAMPLES=n raises or lowers the cases per operation and mode (a deeper run than CI's, by hand).
"""

import json
import os
import time
import traceback
from collections import Counter
from dataclasses import dataclass

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure as CheckFailure
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import support
from tests.conftest import PLATFORM_TOKEN, auth, create_org, make_key
from tests.world import World, build_world

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}

# Operations left out of the fuzzing, each with its reason. Empty on purpose: the fuzzing key is never one a
# generated call can revoke (DELETE /v1/api-keys/{key_id} gets random ids or the world's spare key).
EXCLUDED: dict[str, str] = {}


@dataclass(frozen=True)
class Known:
    """A finding already filed and being fixed elsewhere: its failures are reported, not failed on."""

    finding: str
    backends: tuple[str, ...]

    def matches(self, failure: "Failure") -> bool:
        raise NotImplementedError


# A finding being fixed elsewhere goes here (a subclass of Known naming it), never in a silent skip; remove the
# entry once its fix has landed, so the fuzzing then holds the fix. Empty: issue 12's findings are fixed.
KNOWN: list[Known] = []


@dataclass
class Failure:
    operation: str
    mode: str
    status: int | None
    request: str
    error: str

    def __str__(self) -> str:
        return (
            f"{self.operation} [{self.mode}] -> {self.status}\n  request: {self.request[:400]}\n  {self.error[:1500]}"
        )


def _generate(operation, mode: GenerationMode, count: int) -> list:
    """`count` cases of one operation, the same ones on every run."""
    cases = []

    @given(operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case):
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation  # nothing to get wrong: no parameters, no body
    return cases


def _operations(app) -> list:
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    names = {f"{op.method.upper()} {op.path}" for op in operations}
    assert not set(EXCLUDED) - names, f"exclusions of operations that no longer exist: {set(EXCLUDED) - names}"
    documented = sum(1 for item in app.openapi()["paths"].values() for method in item if method != "parameters")
    assert len(names) == documented, "operations lost while loading the schema"
    kept = [op for op in operations if f"{op.method.upper()} {op.path}" not in EXCLUDED]
    return sorted(kept, key=lambda op: (ORDER[op.method.upper()], op.path))


def _request(case, headers: dict) -> tuple[dict, str]:
    """httpx keyword arguments for the case, and a readable one-line form of it."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    out = {"method": kwargs["method"], "url": kwargs["url"], "headers": kwargs.get("headers") or {}}
    if kwargs.get("params"):
        out["params"] = kwargs["params"]
    if "json" in kwargs:
        out["content"] = json.dumps(kwargs["json"]).encode()  # ASCII-escaped: lone surrogates survive
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        out["content" if isinstance(data, bytes | str) else "data"] = data
    shown = json.dumps(
        {k: out.get(k) for k in ("method", "url", "params")} | {"body": kwargs.get("json", kwargs.get("data"))},
        default=repr,
    )
    return out, shown


def _where(exc: BaseException) -> str:
    """The exception and the last frame of ours it passed through."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/.venv/" not in f.filename]
    at = f" at {frames[-1].filename.split('/main/')[-1]}:{frames[-1].lineno} {frames[-1].line}" if frames else ""
    cause = exc.__cause__ or exc.__context__
    why = f" (from {type(cause).__name__}: {cause})" if cause is not None else ""
    return f"{type(exc).__name__}: {exc}{at}{why}"


async def _fuzz(app, headers_for, world: World) -> tuple[Counter, list[Failure]]:
    counts: Counter = Counter()
    failures: list[Failure] = []
    transport = httpx.ASGITransport(app=app)  # raises what the app raised: a 500's exception is the finding
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for operation in _operations(app):
            name = f"{operation.method.upper()} {operation.path}"
            real = {p.name: world.fill("{" + p.name + "}") for p in operation.path_parameters}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for i, case in enumerate(_generate(operation, mode, EXAMPLES)):
                    if real and i % 2 == 0 and mode is GenerationMode.POSITIVE:
                        case.path_parameters = {**(case.path_parameters or {}), **real}
                    kwargs, shown = _request(case, headers_for(name))
                    counts[mode.value] += 1
                    try:
                        response = await client.request(**kwargs)
                    except Exception as exc:
                        failures.append(Failure(name, mode.value, 500, shown, _where(exc)))
                        continue
                    try:
                        case.validate_response(response, checks=CHECKS, headers=kwargs["headers"])
                    except (FailureGroup, CheckFailure) as exc:
                        failures.append(Failure(name, mode.value, response.status_code, shown, str(exc)))
    return counts, failures


async def _run(app, role: str) -> None:
    started = time.monotonic()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        org = await create_org(client, f"Fuzz {role}")
        world = await build_world(client, app.state.kpi, org)
        key = org.admin_key if role == "admin" else await make_key(client, org, role)

    def headers_for(name: str) -> dict:
        # The platform token too, so POST /v1/orgs is fuzzed past its check (and no call is a failed sign-in).
        return auth(key) | ({"X-Platform-Token": PLATFORM_TOKEN} if name == "POST /v1/orgs" else {})

    counts, failures = await _fuzz(app, headers_for, world)
    known = {k.finding: [f for f in failures if k.matches(f)] for k in KNOWN}
    unknown = [f for f in failures if not any(k.matches(f) for k in KNOWN)]
    took = time.monotonic() - started
    summary = (
        f"fuzz {support.BACKEND} as {role}: {sum(counts.values())} cases ({dict(counts)}) over "
        f"{len(_operations(app))} operations in {took:.0f}s; {len(failures)} failures, "
        f"{len(unknown)} not known; known: { {k: len(v) for k, v in known.items()} }"
    )
    support.ARTIFACTS.mkdir(exist_ok=True)
    report = support.ARTIFACTS / f"fuzz-{support.BACKEND}-{role}.txt"
    report.write_text(summary + "\n\n" + "\n\n".join(str(f) for f in failures) + "\n")
    print(summary)
    assert not unknown, f"{summary}\n(all in {report})\n\n" + "\n\n".join(str(f) for f in unknown[:25])


@pytest.mark.parametrize("role", ["admin", "viewer"])
async def test_no_input_gets_a_server_error_or_an_answer_off_its_schema(app, role):
    await _run(app, role)
