"""The API's one folder convention, read from the source: each domain (and each sub-resource with routes of its own)
is a folder with `router.py`, `service.py` and `schemas.py`; routes live only in a `router.py`, and a router never
queries (its service does). Every PATCH body is an `UpdateInput` named `*Update`."""

import ast
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from services.api.schemas import UpdateInput
from tests.test_route_matrix import route_table

API = Path(__file__).resolve().parents[1] / "services" / "api"

# What an AsyncSession (or a connection) is asked to do for a query or a write.
SESSION_METHODS = frozenset(
    {"execute", "scalar", "scalars", "get", "get_one", "stream", "stream_scalars", "add", "add_all", "delete"}
    | {"flush", "merge", "refresh", "begin", "begin_nested"}
)
SESSION_NAMES = frozenset({"session", "conn", "connection"})
# Opening a session or a connection of one's own.
OPENERS = frozenset({"sessionmaker", "connect"})


def _imports_a_query_tool(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
        return [m for m in modules if m.split(".")[0] == "sqlalchemy" or m == "services.api.crud"]
    module = node.module or ""
    names = {alias.name for alias in node.names}
    if module.split(".")[0] == "sqlalchemy" or module == "services.api.crud":
        return [module]
    if module == "services.api" and "crud" in names:
        return ["services.api.crud"]
    if module == "services.api.pagination" and "fetch_page" in names:
        return ["services.api.pagination.fetch_page"]
    return []


def _receiver(node: ast.expr) -> str | None:
    """`session` for `session.execute`, `session` for `self.session.execute`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def queries_in(source: str) -> list[str]:
    """Where a module queries the database: it imports SQLAlchemy, `services.api.crud` or `fetch_page`, calls
    `select(…)`, asks a session or connection to execute, get, add, delete or flush, or opens one of its own."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += [f"line {node.lineno}: imports {name}" for name in _imports_a_query_tool(node)]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "select":
                found.append(f"line {node.lineno}: select(…)")
            elif isinstance(func, ast.Attribute):
                receiver = _receiver(func.value)
                if func.attr in SESSION_METHODS and receiver is not None and receiver.lower() in SESSION_NAMES:
                    found.append(f"line {node.lineno}: {receiver}.{func.attr}(…)")
                elif func.attr in OPENERS:
                    found.append(f"line {node.lineno}: .{func.attr}(…)")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in API.rglob("*.py") if p.name != "__init__.py")


ROUTERS = sorted(API.rglob("router.py"))


@pytest.mark.parametrize("path", ROUTERS, ids=[str(p.relative_to(API)) for p in ROUTERS])
def test_a_router_never_queries(path):
    found = queries_in(path.read_text())
    assert not found, f"{path.relative_to(API)} queries; move it into the service: {found}"


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select",
        "import sqlalchemy.orm",
        "from services.api.crud import get_or_404",
        "from services.api import crud",
        "from services.api.pagination import PageDep, fetch_page",
        "stmt = select(Alert)",
        "async def f(session):\n    await session.execute(stmt)",
        "async def f(session):\n    return await session.get(Plan, plan_id)",
        "async def f(session):\n    await session.delete(endpoint)",
        "async def f(state):\n    async with state.db.sessionmaker() as s:\n        pass",
        "async def f(state):\n    async with state.db.engine.connect() as conn:\n        pass",
    ],
)
def test_the_check_finds_a_query(source):
    assert queries_in(source), source


def test_the_check_lets_a_router_call_its_service():
    source = (
        "from services.api.pagination import PageDep\n"
        "async def f(session, request, page):\n"
        "    rows, cursor = await service.list_alerts(session, page=page)\n"
        "    return request.headers.get('accept'), rows\n"
    )
    assert queries_in(source) == []


def test_routes_live_only_in_router_modules():
    """An `APIRouter(…)` anywhere else (a `*_router.py`, a service) breaks the one-folder convention."""
    elsewhere = [
        str(path.relative_to(API))
        for path in _modules()
        if path.name != "router.py" and "APIRouter(" in path.read_text() and path.name != "main.py"
    ]
    assert not elsewhere, f"routes outside a router.py: {elsewhere}"


def test_a_folder_with_routes_and_logic_has_router_service_and_schemas():
    """A folder whose router has request or response bodies keeps them in `schemas.py` and its logic in
    `service.py`. The dashboard renders HTML (views.py, charts.py, auth.py) and health only probes (no bodies);
    the reports have one builder module per report instead of a single service."""
    exceptions = {"dashboard": {"service.py", "schemas.py"}, "health": {"schemas.py"}, "reports": {"service.py"}}
    for router in ROUTERS:
        folder = router.parent
        if folder.name == "kpis":  # only includes its sub-packages' routers
            continue
        missing = {"service.py", "schemas.py"} - {p.name for p in folder.iterdir()} - exceptions.get(folder.name, set())
        assert not missing, f"{folder.relative_to(API)} has a router.py but no {sorted(missing)}"


def test_every_patch_body_is_an_update_input_named_update(app):
    for name, context in route_table(app).items():
        route = context.original_route
        if not name.startswith("PATCH ") or not isinstance(route, APIRoute):
            continue
        [body] = route.dependant.body_params
        model = body.field_info.annotation
        assert issubclass(model, UpdateInput), f"{name}: {model.__name__} is not an UpdateInput"
        assert model.__name__.endswith("Update"), f"{name}: {model.__name__} is not named *Update"
