"""A second-domain check for retrieval changes: cloze-like questions over news articles.

    python bench/news_cloze.py --articles ../shared/data/news_dantri/articles.jsonl.gz --out /tmp/news-cloze
    python -m bot eval --contexts /tmp/news-cloze/contexts.jsonl --questions /tmp/news-cloze/questions.jsonl

Writes (outside the project; the data is never copied into it) 900 random articles as contexts
and, for up to 500 of them, one question made from a random sentence: a 2-4 word "answer" span is
cut out, 2-5 words are kept on each side, a third of those are dropped at random, and "là gì?" is
added. These questions never use the title and copy the sentence's word order, so they test
matching and proximity, not paraphrase; the figures are a check that a change made on viquad2
(Wikipedia) does not hurt news text, not a measure of the bot on real questions.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

from bot.text.normalize import split_sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", required=True, help="JSON Lines (.gz) with id, title, text")
    parser.add_argument("--out", required=True, help="folder for contexts.jsonl and questions.jsonl")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with gzip.open(args.articles, "rt", encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle]
    rng.shuffle(articles)
    articles = articles[:900]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "contexts.jsonl", "w", encoding="utf-8") as handle:
        for a in articles:
            handle.write(json.dumps({"id": a["id"], "title": a["title"], "text": a["text"]}, ensure_ascii=False) + "\n")
    questions = []
    for a in articles[:500]:
        sentences = [
            s for p in a["text"].split("\n") if len(p) > 150 for s in split_sentences(p) if 10 <= len(s.split()) <= 40
        ]
        if not sentences:
            continue
        words = rng.choice(sentences).rstrip(".").split()
        span = rng.randint(2, 4)
        start = rng.randint(0, len(words) - span)
        left = words[max(0, start - rng.randint(2, 5)) : start]
        right = words[start + span : start + span + rng.randint(2, 5)]
        kept = [w for w in left + right if rng.random() > 0.35]
        if len(kept) < 3:
            continue
        questions.append(
            {"id": f"n{len(questions)}", "question": " ".join(kept) + " là gì?", "gold_context_id": a["id"]}
        )
    with open(out / "questions.jsonl", "w", encoding="utf-8") as handle:
        for q in questions:
            handle.write(json.dumps(q, ensure_ascii=False) + "\n")
    print(f"{len(articles)} contexts, {len(questions)} questions in {out}")


if __name__ == "__main__":
    main()
