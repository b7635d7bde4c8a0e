"""`make sdk` generates a Python client from our OpenAPI document; regenerated here and used against the running
service: methods named after the operation ids, a KPI created, a batch pushed, a typed error read."""

import asyncio
import importlib
import sys
from contextlib import AsyncExitStack

from sdk.generate import PACKAGE, generate
from tests.ingest_support import wait_done
from tests.receiver import serving


async def test_the_generated_sdk_creates_a_kpi_pushes_a_batch_and_reads_a_typed_error(app, client, org, tmp_path):
    # From the running app's document: building another app here would reconfigure the process (its sealing key).
    package_dir = await asyncio.to_thread(generate, tmp_path, app.openapi())
    assert (package_dir / "api" / "kpis" / "kpis_create.py").exists()
    assert (package_dir / "api" / "kpi_targets" / "kpis_targets_list.py").exists()
    sys.path.insert(0, str(tmp_path))
    try:
        sdk = importlib.import_module(PACKAGE)
        kpis_create = importlib.import_module(f"{PACKAGE}.api.kpis.kpis_create")
        push = importlib.import_module(f"{PACKAGE}.api.ingestion.ingest_metrics_push")
        models = importlib.import_module(f"{PACKAGE}.models")
    finally:
        sys.path.remove(str(tmp_path))

    server = AsyncExitStack()
    base = await server.enter_async_context(serving(app))
    try:
        api = sdk.AuthenticatedClient(base_url=base, token=org.admin_key)
        body = models.KpiCreate.from_dict(
            {
                "name": "CPA",
                "category": "output",
                "formula": "spend / conversions",
                "unit": "currency",
                "direction": "lower_is_better",
            }
        )
        created = await kpis_create.asyncio_detailed(client=api, body=body)
        assert created.status_code == 201, created.content
        assert isinstance(created.parsed, models.KpiOut) and created.parsed.name == "CPA"

        batch = models.MetricBatchIn.from_dict(
            {"points": [{"metric": "spend", "value": "12.5", "timestamp": "2026-11-02"}], "currency": "USD"}
        )
        accepted = await push.asyncio_detailed(client=api, body=batch)
        assert accepted.status_code == 202, accepted.content
        assert (await wait_done(client, org.headers, str(accepted.parsed.batch_id)))["status"] == "done"

        wrong = models.KpiCreate.from_dict({**body.to_dict(), "name": "CPA 2", "formula": "spend / nope"})
        refused = await kpis_create.asyncio_detailed(client=api, body=wrong)
        assert refused.status_code == 422 and isinstance(refused.parsed, models.ValidationProblem), refused.content
        assert refused.parsed.errors and all(e.type_ and e.location for e in refused.parsed.errors)  # `type`, renamed
    finally:
        await server.aclose()
