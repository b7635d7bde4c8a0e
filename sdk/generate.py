"""Write the service's OpenAPI document to sdk/openapi.json, then generate the Python SDK from it with
openapi-python-client (`make sdk`). The generated package is `sdk/kpi_service_client`."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "kpi_service_client"


def spec() -> dict:
    from services.api.main import create_app

    return create_app().openapi()


def generate(into: Path, openapi: dict | None = None) -> Path:
    """Generate the SDK into `into/kpi_service_client` (replaced) from this OpenAPI document (default: a new app's,
    which configures the process as `create_app` does: tests pass their running app's); returns the package's
    directory."""
    into.mkdir(parents=True, exist_ok=True)
    document = into / "openapi.json"
    document.write_text(json.dumps(openapi or spec(), indent=2, sort_keys=True) + "\n")
    package = into / PACKAGE
    shutil.rmtree(package, ignore_errors=True)
    bin_dir = str(Path(sys.executable).parent)  # the generator formats its output with this venv's ruff
    subprocess.run(  # noqa: S603 - our own venv's generator, on a file we just wrote
        [
            str(Path(bin_dir) / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(package),
            "--meta",
            "none",
            "--config",
            str(HERE / "config.yaml"),
        ],
        check=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
    )
    return package


if __name__ == "__main__":
    print(generate(HERE))
