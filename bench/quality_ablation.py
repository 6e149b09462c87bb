"""The ablation table of docs/quality.md: each retrieval change, added one at a time.

    python bench/quality_ablation.py --contexts ../shared/data/viquad2/contexts.jsonl \
        --questions ../shared/data/viquad2/retrieval.jsonl [--half report]

Each row builds the index of the contexts with that row's settings and asks every question
with and without diacritics. Ranking figures are taken with the no-answer rule off (pure
ranking); the last columns run the refusal mode with the configured threshold.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from bot.frontends import evaluate as ev
from bot.settings import Settings, load_settings

# the stop words of the first version (question words and common function words)
CORE_STOPWORDS = frozenset(
    [
        "ai",
        "gì",
        "nào",
        "đâu",
        "sao",
        "bao",
        "nhiêu",
        "mấy",
        "chăng",
        "không",
        "chưa",
        "hả",
        "hở",
        "nhỉ",
        "vậy",
        "thế",
        "là",
        "của",
        "và",
        "với",
        "cho",
        "có",
        "được",
        "bị",
        "các",
        "những",
        "một",
        "này",
        "đó",
        "kia",
        "thì",
        "mà",
        "ở",
        "tại",
        "trong",
        "trên",
        "dưới",
        "về",
        "từ",
        "đến",
        "tới",
        "theo",
        "như",
        "nhưng",
        "hay",
        "hoặc",
        "cũng",
        "đã",
        "đang",
        "sẽ",
        "rằng",
        "để",
        "do",
        "vì",
        "nên",
        "khi",
        "lúc",
        "người",
        "việc",
        "ra",
        "vào",
        "lên",
        "xuống",
        "hãy",
        "xin",
        "biết",
        "hỏi",
        "nói",
        "gồm",
        "bằng",
        "hơn",
        "nhất",
        "rất",
        "lại",
        "còn",
        "vẫn",
        "đều",
        "chỉ",
        "mỗi",
        "từng",
        "nhiều",
        "ít",
        "the",
        "a",
        "an",
        "of",
        "and",
        "is",
        "are",
        "what",
        "who",
        "when",
        "where",
        "how",
        "which",
        "in",
        "on",
        "to",
        "for",
    ]
)
# gì, nào, được typed without diacritics: stop words of config/settings.yaml added in the fourth round
TYPED_BARE = frozenset({"gi", "nao", "duoc"})


def variants(final: Settings) -> list[tuple[str, Settings]]:
    """Cumulative steps from the first version's settings to the configured ones."""
    core = replace(
        final,
        terms=replace(final.terms, words=True, min_word_syllables=2, abbreviations=()),
        stopwords=CORE_STOPWORDS,
        bm25=replace(final.bm25, k1=1.5),
        answer=replace(
            final.answer, bigram_weight=1.0, word_weight=1.0, window_weight=0.0, title_weight=0.0, name_weight=0.0
        ),
    )
    steps = [("first version: syllables + bigrams + pyvi words, folded copy, long stop list", core)]
    s = replace(core, terms=replace(core.terms, words=False))
    steps.append(("- pyvi words (syllables and bigrams only)", s))
    s = replace(s, stopwords=final.stopwords - TYPED_BARE)
    steps.append(("stop words: question words and 'được' only", s))
    s = replace(s, answer=replace(s.answer, bigram_weight=final.answer.bigram_weight))
    steps.append((f"bigram weight {final.answer.bigram_weight:g}", s))
    s = replace(s, bm25=final.bm25)
    steps.append((f"k1 {final.bm25.k1:g}, b {final.bm25.b:g}", s))
    earlier = replace(final, stopwords=final.stopwords - TYPED_BARE)
    s = replace(earlier, answer=replace(final.answer, window_weight=0.0, title_weight=0.0, name_weight=0.0))
    steps.append(("+ abbreviations (config/abbreviations.yaml), pyvi words of 3+ syllables at weight 0.5", s))
    s = replace(s, answer=replace(s.answer, window_weight=final.answer.window_weight))
    steps.append(
        (
            f"+ proximity re-rank of the top {final.answer.rerank_depth} (window {final.answer.window_width}, "
            f"weight {final.answer.window_weight:g})",
            s,
        )
    )
    s = replace(s, answer=replace(s.answer, name_weight=final.answer.name_weight))
    steps.append((f"+ names of the question in the passage or title (weight {final.answer.name_weight:g})", s))
    steps.append(("+ gì, nào, được typed without diacritics as stop words = configured", final))
    return steps


def figures(index, questions, settings: Settings, strip: bool) -> ev.Report:
    ranking_only = replace(settings, answer=replace(settings.answer, min_coverage=0.0))
    outcomes, seconds = ev.run_questions(index, questions, ranking_only, strip)
    return ev.summarize(outcomes, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--half", choices=("tune", "report"))
    parser.add_argument("--refusal", action="store_true", help="refusal figures for the last row")
    args = parser.parse_args()
    contexts = Path(args.contexts)
    questions = ev.select_half(ev.load_questions(Path(args.questions)), args.half)
    articles = ev.load_contexts(contexts).articles
    final = load_settings()
    print("| change | P@1 | R@10 | MRR@10 | P@1 no accents | R@10 no accents | MRR@10 no accents |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, settings in variants(final):
        with tempfile.TemporaryDirectory() as workdir:
            index = ev.build_eval_index(articles, settings, Path(workdir), contexts)
            accented = figures(index, questions, settings, False)
            stripped = figures(index, questions, settings, True)
        cells = [
            f"{100 * r.p_at_1:.1f} | {100 * r.r_at_10:.1f} | {100 * r.mrr_at_10:.1f}" for r in (accented, stripped)
        ]
        print(f"| {label} | {cells[0]} | {cells[1]} |", flush=True)
    if args.refusal:
        report, outcomes = ev.evaluate(articles, contexts, questions, final)
        refusals = ev.evaluate_refusals(articles, contexts, questions, outcomes, final)
        print()
        print(ev.format_report(report, "configured, no-answer rule on"))
        print(ev.format_refusals(refusals))


if __name__ == "__main__":
    main()
