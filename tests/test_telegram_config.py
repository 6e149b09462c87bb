"""The ``telegram:`` settings are checked on load and a bad value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, telegram: dict) -> Path:
    config = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    config["telegram"] = telegram
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_defaults():
    telegram = load_settings(ROOT / "config" / "settings.yaml").telegram
    assert telegram.mode == "polling" and telegram.allows(42) and not telegram.admin_user_ids


def test_valid_section(tmp_path):
    telegram = load_settings(
        _write(
            tmp_path,
            {
                "mode": "webhook",
                "webhook": {"url": "https://bot.example.org/t", "port": 8443},
                "allowed_chat_ids": [-1001, 7],
                "admin_user_ids": 7,
                "sources_page_size": 5,
            },
        )
    ).telegram
    assert telegram.mode == "webhook" and telegram.webhook_url == "https://bot.example.org/t"
    assert telegram.allows(-1001) and not telegram.allows(8) and telegram.admin_user_ids == {7}


@pytest.mark.parametrize(
    "section, key",
    [
        ({"mode": "carrier-pigeon"}, "telegram.mode"),
        ({"mode": "webhook"}, "telegram.webhook.url"),
        ({"allowed_chat_ids": ["@mychat"]}, "telegram.allowed_chat_ids"),
        ({"admin_user_ids": [True]}, "telegram.admin_user_ids"),
        ({"sources_page_size": 0}, "telegram.sources_page_size"),
        ({"webhook": {"port": 70000}}, "telegram.webhook.port"),
    ],
)
def test_bad_values_name_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_settings(_write(tmp_path, section))
