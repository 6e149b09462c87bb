import os
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.index import storage as index_mod
from bot.index.builder import ensure_index
from bot.index.storage import current_version, load_index
from bot.search.bm25 import BM25Params, Postings, length_norms, okapi_idf, score_touched, top_k
from conftest import write_article


def _random_corpus(rng: random.Random, n_docs: int, vocab: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocab)]
    # a few very common words get negative idf (present in more than half of the documents)
    return [
        [rng.choice(words[:3]) for _ in range(rng.randint(0, 3))]
        + [rng.choice(words) for _ in range(rng.randint(1, 30))]
        for _ in range(n_docs)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_scores_identical_to_rank_bm25(seed):
    rng = random.Random(seed)
    docs = _random_corpus(rng, rng.randint(5, 80), rng.randint(5, 60))
    params = BM25Params(k1=rng.choice([1.2, 1.5, 2.0]), b=rng.choice([0.5, 0.75, 1.0]), epsilon=0.25)
    reference = BM25Okapi(docs, k1=params.k1, b=params.b, epsilon=params.epsilon)
    vocab: dict[str, int] = {}
    postings: dict[str, tuple[list[int], list[int]]] = {}
    for d, doc in enumerate(docs):
        counts: dict[str, int] = {}
        for w in doc:
            counts[w] = counts.get(w, 0) + 1
        for w, c in counts.items():
            vocab.setdefault(w, len(vocab))
            postings.setdefault(w, ([], []))
            postings[w][0].append(d)
            postings[w][1].append(c)
    df = np.array([len(postings[w][0]) for w in vocab])
    idf = okapi_idf(df, len(docs), params.epsilon)
    for w, i in vocab.items():
        assert idf[i] == reference.idf[w]
    norms = length_norms(np.array([len(d) for d in docs]), params)
    for _ in range(20):
        query = [rng.choice(list(vocab) + ["unknown"]) for _ in range(rng.randint(1, 6))]
        plists = [
            Postings(np.array(postings[w][0]), np.array(postings[w][1], dtype=np.uint16)) if w in vocab else None
            for w in query
        ]
        idfs = [float(idf[vocab[w]]) if w in vocab else 0.0 for w in query]
        touched, scores = score_touched(plists, idfs, [1.0] * len(query), norms, params.k1)
        expected = reference.get_scores(query)
        full = np.zeros(len(docs))
        full[touched] = scores
        assert np.array_equal(full, expected)  # bit for bit
        best = top_k(touched, scores, 5)
        ref_order = sorted(range(len(docs)), key=lambda d: (-expected[d], d))
        assert [d for d, _ in best] == [d for d in ref_order if d in set(touched.tolist())][:5]


def _corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_article(
        folder,
        "001-a.md",
        "Hội nghị về chuyển đổi số",
        "Sáng 6/9, thành phố tổ chức hội nghị về chuyển đổi số với 300 đại biểu tham dự.\n\nHội nghị thống nhất 5 nhóm giải pháp.",
        date="2021-09-06",
        source="Báo A",
    )
    write_article(
        folder,
        "002-b.md",
        "Lễ ra quân mùa hè xanh",
        "Chiều 5/9, thành đoàn tổ chức lễ ra quân chiến dịch mùa hè xanh với 1.200 tình nguyện viên.",
        date="2021-09-05",
        source="Báo B",
    )
    return folder


def _settings(settings, tmp_path):
    return settings.with_paths(_corpus(tmp_path), tmp_path / "index")


def test_index_is_saved_loaded_and_refreshed_when_corpus_changes(settings, tmp_path):
    s = _settings(settings, tmp_path)
    index, report = ensure_index(s)
    assert report.action == "built" and index.n_passages == 2
    index, report = ensure_index(s)
    assert report.action == "loaded"
    write_article(
        s.corpus, "003-c.md", "Tin mới", "Nội dung mới về giao thông đô thị và xe buýt điện.", date="2021-09-07"
    )
    index, report = ensure_index(s)
    assert report.action == "rebuilt" and report.segmented == 1  # only the new article is segmented
    assert len(index.articles) == 3


def test_index_refreshed_when_settings_change(settings, tmp_path):
    s = _settings(settings, tmp_path)
    ensure_index(s)
    from dataclasses import replace

    changed = replace(s, bm25=BM25Params(k1=s.bm25.k1 + 0.3, b=s.bm25.b, epsilon=s.bm25.epsilon))
    _, report = ensure_index(changed)
    assert report.action == "rebuilt"


def test_interrupted_build_leaves_previous_index_usable(settings, tmp_path, monkeypatch):
    s = _settings(settings, tmp_path)
    ensure_index(s)
    before = current_version(s.index_dir)
    write_article(s.corpus, "003-c.md", "Tin mới", "Nội dung mới về giao thông.", date="2021-09-07")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_mod, "write_synced", crash)
    with pytest.raises(OSError):
        ensure_index(s)
    monkeypatch.undo()
    assert current_version(s.index_dir) == before
    old = load_index(s.index_dir, s.bm25)
    assert len(old.articles) == 2  # the previous index still answers
    _, report = ensure_index(s)  # and the next run completes the refresh
    assert report.action == "rebuilt"


def test_damaged_index_is_detected_and_rebuilt(settings, tmp_path):
    s = _settings(settings, tmp_path)
    ensure_index(s)
    version = current_version(s.index_dir)
    target = next(version.glob("*.post_tf.npy"))
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(index_mod.IndexError_):
        load_index(s.index_dir, s.bm25)
    index, report = ensure_index(s)
    assert report.action == "rebuilt" and "checksum" in report.reason
    truncated = next(current_version(s.index_dir).glob("*.passages.txt"))
    os.truncate(truncated, 10)
    _, report = ensure_index(s)
    assert report.action == "rebuilt" and "truncated" in report.reason


def test_tiny_corpus_still_answers(settings, tmp_path):
    # with one or two passages BM25Okapi's idf is zero or negative for every word;
    # the ranking still works and the no-answer rule still tells answers from non-answers
    from bot.answer.compose import answer_question

    folder = tmp_path / "one"
    folder.mkdir()
    write_article(
        folder,
        "001-a.md",
        "Hội nghị về chuyển đổi số",
        "Sáng 6/9, thành phố tổ chức hội nghị về chuyển đổi số với 300 đại biểu tham dự.",
        date="2021-09-06",
    )
    s = settings.with_paths(folder, tmp_path / "index")
    index, _ = ensure_index(s)
    answer = answer_question(index, "hội nghị chuyển đổi số có bao nhiêu đại biểu", s)
    assert answer.status == "ok" and "300 đại biểu" in answer.results[0].text
    assert answer_question(index, "giá vàng SJC hôm nay", s).status == "no_answer"
