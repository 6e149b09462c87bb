"""The feeds: section of config/settings.yaml: feeds as a list or with options, durations, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import ConfigError, FeedSource, load_settings, parse_duration

ROOT = Path(__file__).resolve().parent.parent


def settings_with(tmp_path: Path, feeds: object):
    data = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    data["feeds"] = feeds
    (tmp_path / "config").mkdir(exist_ok=True)
    path = tmp_path / "config" / "settings.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(path)


def test_durations() -> None:
    assert [parse_duration(v) for v in ("15m", "2s", "1h30m", "1.5h", 30, "0")] == [900, 2, 5400, 5400, 30, 0]
    assert parse_duration("soon") is None and parse_duration(-1) is None and parse_duration(True) is None


def test_feeds_as_a_list_or_with_options(tmp_path) -> None:
    listed = settings_with(tmp_path, ["https://a.vn/rss", {"url": "https://b.vn/sitemap.xml", "name": "Báo B"}])
    assert listed.feeds.sources == (FeedSource("https://a.vn/rss"), FeedSource("https://b.vn/sitemap.xml", "Báo B"))
    assert listed.feeds.every == 900 and listed.feeds.subscriptions_file == tmp_path / ".cache/subscriptions.sqlite"
    options = settings_with(tmp_path, {"sources": ["https://a.vn/rss"], "every": "2s", "delay": 0})
    assert options.feeds.every == 2 and options.feeds.delay == 0
    assert load_settings(ROOT / "config" / "settings.yaml").feeds.sources == ()


@pytest.mark.parametrize(
    "feeds, key",
    [
        ({"every": "soon"}, "feeds.every"),
        ({"sources": ["ftp://a.vn/rss"]}, "feeds.sources"),
        ({"sources": [{"name": "no url"}]}, "feeds.sources"),
        ({"retries": -1}, "feeds.retries"),
        ("https://a.vn/rss", "feeds"),
    ],
)
def test_bad_feed_settings_name_their_key(tmp_path, feeds, key) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        settings_with(tmp_path, feeds)
