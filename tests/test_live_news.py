"""Live news in `serve` (issue 15, items 3 and 5): the scheduled pull swaps the index in while
questions are answered, /latest, /follow, /following, /unfollow and topic alerts, against the
fake Bot API server and a local feed site."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from bot.corpus.article import Article
from bot.corpus.subscriptions import SubscriptionError, Subscriptions, topic_matches
from bot.frontends.messages import load_messages
from bot.frontends.telegram.app import build_application
from bot.service import Service
from bot.settings import load_settings
from bot_process import start_serve, stop
from conftest import write_article
from fake_bot_api import ADMIN, GROUP, TOKEN, USER, FakeBotApi, running
from feed_server import serve_site
from test_pull import page, rss

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = load_messages(ROOT / "config" / "messages.yaml")


def test_topics_match_all_their_words_diacritics_optional() -> None:
    article = Article("1", "Mở tuyến xe buýt điện", "Giá vé 20.000 đồng, nối sân bay với trung tâm.")
    assert topic_matches("xe buýt điện", article) and topic_matches("XE BUYT dien", article)
    assert topic_matches("san bay gia ve", article) and not topic_matches("xe buýt tàu điện", article)
    assert not topic_matches("  ", article)


def test_subscriptions_are_kept_and_bounded(tmp_path) -> None:
    path = tmp_path / "subs.sqlite"
    subs = Subscriptions(path, max_per_chat=2)
    assert subs.follow(7, "giá vàng").number == 1 and subs.follow(7, "  xe   buýt ").topic == "xe buýt"
    for topic, reason in (("Gia Vang", "exists"), ("bão", "too_many"), ("!!", "empty"), ("x" * 200, "too_long")):
        with pytest.raises(SubscriptionError) as caught:
            (subs.follow(8, topic) if reason in ("empty", "too_long") else subs.follow(7, topic))
        assert caught.value.reason == reason
    subs.follow(8, "bão số 3")
    subs.close()
    again = Subscriptions(path, max_per_chat=2)  # survives a restart
    assert [s.topic for s in again.following(7)] == ["giá vàng", "xe buýt"]
    assert again.unfollow(7, 1).topic == "giá vàng" and again.unfollow(7, 5) is None
    assert [(s.number, s.topic) for s in again.following(7)] == [(1, "xe buýt")]
    storm = Article("9", "Bão số 3 đổ bộ", "Bão số 3 gây mưa lớn; xe buýt ngừng chạy.")
    assert {chat: [t for _, t in found] for chat, found in again.alerts([storm]).items()} == {
        7: ["xe buýt"],
        8: ["bão số 3"],
    }
    assert again.drop_chat(8) == 1 and again.following(8) == []


def replies_to(api: FakeBotApi, chat_id: int, needle: str, timeout: float = 20.0) -> str:
    call = api.wait_for(
        "sendMessage", lambda p: int(p["chat_id"]) == chat_id and needle in str(p.get("text")), timeout=timeout
    )[0]
    return str(call.params["text"])


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_serve_pulls_swaps_the_index_and_alerts_followers(tmp_path) -> None:
    with serve_site() as site, FakeBotApi() as api:
        site.set("/robots.txt", "", content_type="text/plain")
        for key in ("lua", "moi", "cang"):
            site.set(f"/tin/{key}.html", page(key))
        first = [("/tin/lua.html", "Xuất khẩu gạo thơm sang châu Âu", "Mon, 03 Jun 2024 08:00:00 +0700")]
        site.set("/rss.xml", rss(site, first), content_type="application/rss+xml")
        shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
        (tmp_path / "config").mkdir()
        data = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
        data.update(corpus=str(tmp_path / "corpus"), index_dir=str(tmp_path / "index"))
        data["feeds"] = {
            "sources": [{"url": site.url("/rss.xml"), "name": "Báo Thử"}],
            "every": "1s",
            "delay": "0s",
            "timeout": "5s",
            "subscriptions_file": str(tmp_path / "subs.sqlite"),
        }
        config = tmp_path / "config" / "settings.yaml"
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        service, _ = Service.open(load_settings(config))
        application = build_application(service, MESSAGES, TOKEN, api.base_url)
        live = application.bot_data["live_news"]
        with running(application):
            api.send("/follow xe buyt dien")
            assert "«xe buyt dien»" in replies_to(api, USER["id"], "Đã theo dõi")
            api.send("/follow cảng container", chat=GROUP)  # not an administrator of the group
            replies_to(api, GROUP["id"], "chỉ quản trị viên nhóm")
            api.admins.add(ADMIN["id"])
            api.send("/follow cảng container", user=ADMIN, chat=GROUP)
            replies_to(api, GROUP["id"], "Đã theo dõi chủ đề số 1")
            api.send("/following")
            assert "1. xe buyt dien" in replies_to(api, USER["id"], "Các chủ đề đang theo dõi")

            wait_until(lambda: any("lua.html" in (a.url or "") for a in (i.article for i in service.latest(3))))
            # a new item appears while questions keep coming: every question is answered
            site.set(
                "/rss.xml",
                rss(site, [("/tin/moi.html", "Xe buýt điện nối sân bay", "Sun, 09 Jun 2024 07:00:00 +0700"), *first]),
                content_type="application/rss+xml",
            )
            asked = 0
            deadline = time.monotonic() + 30
            while live.alerts_sent == 0 and time.monotonic() < deadline:
                api.send("Tập đoàn Lúa gạo Mekong xuất khẩu bao nhiêu tấn gạo thơm?")
                asked += 1
                time.sleep(0.7)
            alert = replies_to(api, USER["id"], "Bài mới về «xe buyt dien»")
            assert site.url("/tin/moi.html") in alert and "Báo Thử" in alert and "09/06/2024" in alert
            answers = api.wait_for(
                "sendMessage", lambda p: "Kết quả cho: Tập đoàn Lúa gạo" in str(p.get("text")), count=asked, timeout=90
            )  # the per-chat rate limit spaces the replies out
            assert all("120.000 tấn" in str(c.params["text"]) for c in answers)
            assert not [c for c in api.calls if c.method == "sendMessage" and "lỗi" in str(c.params.get("text"))]
            # the new article is answered from, without a restart
            api.send("Tuyến xe buýt điện số 109 giá vé bao nhiêu?")
            assert "20.000 đồng" in replies_to(api, USER["id"], "Kết quả cho: Tuyến xe buýt")
            api.send("/latest 2")
            latest = replies_to(api, USER["id"], "Các bài mới nhất")
            assert "Xe buýt điện nối sân bay" in latest and site.url("/tin/moi.html") in latest
            api.send("/unfollow 1")
            replies_to(api, USER["id"], "Đã bỏ theo dõi «xe buyt dien»")

            # a chat that blocked the bot is unsubscribed, not retried forever
            api.fail_next("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat")
            items = [("/tin/cang.html", "Khánh thành cảng container Phước An", "Wed, 05 Jun 2024 23:30:00 +0700")]
            site.set("/rss.xml", rss(site, items + first), content_type="application/rss+xml")
            wait_until(lambda: live.subscriptions.following(GROUP["id"]) == [])
            assert live.subscriptions.following(USER["id"]) == []


@pytest.mark.slow
def test_a_pull_and_a_reload_never_run_at_the_same_time(tmp_path) -> None:
    with serve_site() as site:
        gate = threading.Event()
        site.set("/robots.txt", "", content_type="text/plain")
        site.set("/tin/lua.html", page("lua"), gate=gate)  # the pull waits here until the test lets it go
        items = [("/tin/lua.html", "Xuất khẩu gạo thơm sang châu Âu", "Mon, 03 Jun 2024 08:00:00 +0700")]
        site.set("/rss.xml", rss(site, items), content_type="application/rss+xml")
        (tmp_path / "corpus").mkdir()
        write_article(tmp_path / "corpus", "001-a.md", "Bài cũ", "Sáng 1/6/2024, hội nghị diễn ra tại Hà Nội.")
        settings = load_settings(ROOT / "config" / "settings.yaml").with_paths(tmp_path / "corpus", tmp_path / "idx")
        settings = dataclasses.replace(settings, feeds=dataclasses.replace(settings.feeds, delay=0.0))
        service, _ = Service.open(settings)
        events: list[str] = []
        puller = threading.Thread(target=lambda: (service.pull([site.url("/rss.xml")]), events.append("pulled")))
        puller.start()
        wait_until(lambda: bool(site.requests("/tin/lua.html")))
        reloader = threading.Thread(target=lambda: (service.reload(), events.append("reloaded")))
        reloader.start()
        time.sleep(0.5)
        assert events == [] and service.ask("hội nghị diễn ra ở đâu").results  # questions still answered
        gate.set()
        puller.join(30)
        reloader.join(30)
        assert events == ["pulled", "reloaded"] and service.articles == 2


@pytest.mark.slow
def test_the_serve_process_pulls_every_two_seconds(tmp_path) -> None:
    """`python -m bot serve` with feeds.every: 2s: an article that appears in the feed after the
    bot started is answered from, and a chat following a word gets its link."""
    with serve_site() as site, FakeBotApi() as api:
        site.set("/robots.txt", "", content_type="text/plain")
        site.set("/tin/moi.html", page("moi"))
        site.set("/rss.xml", rss(site, []), content_type="application/rss+xml")
        (tmp_path / "corpus").mkdir()
        write_article(tmp_path / "corpus", "001-a.md", "Bài cũ", "Sáng 1/6/2024, hội nghị diễn ra tại Hà Nội.")
        (tmp_path / "config").mkdir()
        data = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
        data["feeds"] = {"sources": [site.url("/rss.xml")], "every": "2s", "delay": "0s"}
        config = tmp_path / "config" / "settings.yaml"
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
        process = start_serve(
            api, tmp_path / "corpus", tmp_path / "index", "--config", str(config), stdout=log, stderr=log
        )
        try:
            api.wait_for("getUpdates", timeout=60)
            api.send("/follow xe buyt")
            replies_to(api, USER["id"], "Đã theo dõi", timeout=30)
            item = ("/tin/moi.html", "Xe buýt điện nối sân bay", "Sun, 09 Jun 2024 07:00:00 +0700")
            site.set("/rss.xml", rss(site, [item]), content_type="application/rss+xml")
            alert = replies_to(api, USER["id"], "Bài mới về «xe buyt»", timeout=60)
            assert site.url("/tin/moi.html") in alert
            api.send("Tuyến xe buýt điện số 109 giá vé bao nhiêu?")
            assert "20.000 đồng" in replies_to(api, USER["id"], "Kết quả cho: Tuyến xe buýt", timeout=30)
        finally:
            stop(process)
            log.close()
        assert (tmp_path / ".cache" / "subscriptions.sqlite").is_file()  # next to the project's settings
