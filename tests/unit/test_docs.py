"""The docs stay in step with the code: every setting is documented."""

from __future__ import annotations

from pathlib import Path

from genq.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_in_the_configuration_page() -> None:
    page = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`GENQ_{name.upper()}`" not in page]
    assert missing == []


def test_every_documented_setting_exists() -> None:
    import re

    page = (DOCS / "configuration.md").read_text()
    # Read by the CLI (client commands, and the remote worker's key), not by Settings.
    client_side = {"url", "api_key", "worker_token"}
    documented = {m.lower() for m in re.findall(r"`GENQ_([A-Z_]+)`", page)} - client_side
    assert documented <= set(Settings.model_fields)
