"""The index as the running bot sees it: a file changed in place under it is caught before it is
read (no SIGBUS), the service rebuilds in the background, and /reload tells an index built by
another process apart from one that did not change."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from bot.frontends.messages import load_messages
from bot.frontends.telegram.replies import Replies
from bot.index.builder import ensure_index
from bot.index.storage import current_version
from bot.service import IndexRebuilding, ReloadStatus, Service
from conftest import write_article

QUESTION = "Ai là Bí thư Thành ủy Hà Nội dự Đại hội Đảng bộ khối lần thứ XIII?"


def test_a_file_truncated_in_place_is_seen_before_it_is_read(own):
    service = Service(own)
    assert service.ask(QUESTION).status == "ok"
    assert service.index.damaged() is None
    victim = next(current_version(own.index_dir).glob("*.post_doc.npy"))  # memory-mapped
    os.truncate(victim, 64)
    with pytest.raises(IndexRebuilding):
        service.ask(QUESTION)  # reading it would have been SIGBUS
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = service.ask(QUESTION)
            break
        except IndexRebuilding:
            time.sleep(0.1)
    assert answer.status == "ok" and "Vương Đình Huệ" in answer.results[0].text
    assert service.index.damaged() is None


def test_files_replaced_or_removed_by_a_rename_are_harmless(own):
    """A new version written by another process (the old folder removed) is not damage: the
    loaded files stay readable until the next /reload."""
    service = Service(own)
    assert service.ask(QUESTION).status == "ok"  # loaded
    old = current_version(own.index_dir)
    moved = own.index_dir.parent / "moved"
    os.rename(old, moved)
    assert service.index.damaged() is None and service.ask(QUESTION).status == "ok"
    shutil.rmtree(moved)  # unlinked: the mapped files live on until unmapped
    assert service.index.damaged() is None and service.ask(QUESTION).status == "ok"


def test_reload_says_the_collection_changed_when_another_process_built_a_new_index(own):
    replies = Replies(Service(own), load_messages())
    service = replies.service
    assert service.reload().status == ReloadStatus.UNCHANGED
    write_article(own.corpus, "900-moi.md", "Bài mới về cầu Long Biên", "Cầu Long Biên được sửa chữa năm 2026. " * 30)
    ensure_index(own)  # "another process": `python -m bot add` or `index`
    assert service.reload().status == ReloadStatus.CHANGED
    assert service.articles == 6
    assert service.reload().status == ReloadStatus.UNCHANGED
    text = replies.reload("vi")
    assert replies.messages.get("reload_unchanged") in text
