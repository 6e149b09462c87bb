"""Splitting a cleaned article into passages that read well on their own."""

from __future__ import annotations

from dataclasses import dataclass

from bot.corpus.article import Article
from bot.text.cleaning import clean_lines, split_byline
from bot.text.normalize import split_sentences


@dataclass(frozen=True)
class Passage:
    """A piece of an article: its text and where it stands."""

    article_id: str
    position: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.position}"


def _cut_long(paragraph: str, max_chars: int) -> list[str]:
    """Cut a paragraph longer than ``max_chars`` at sentence ends (or spaces, if it must)."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(paragraph):
        while len(sentence) > max_chars:  # one huge sentence: cut at the last space
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def split_paragraphs(paragraphs: list[str], min_chars: int, max_chars: int) -> list[str]:
    """Merge short paragraphs with the next ones and cut long ones, keeping the order."""
    pieces = [piece for p in paragraphs for piece in _cut_long(p, max_chars)]
    passages: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            passages.append(current)
            current = piece
        else:
            current = f"{current}\n{piece}" if current else piece
        if len(current) >= min_chars:
            passages.append(current)
            current = ""
    if current:
        if passages and len(passages[-1]) + 1 + len(current) <= max_chars + min_chars:
            passages[-1] = f"{passages[-1]}\n{current}"
        else:
            passages.append(current)
    return passages


def article_body(article: Article) -> tuple[list[str], str | None]:
    """The article's clean paragraphs and its closing byline, if any."""
    return split_byline(clean_lines(article.text, article.title or None))


def split_article(article: Article, min_chars: int = 200, max_chars: int = 900) -> list[Passage]:
    """The article's passages: debris removed, paragraphs merged or cut to size."""
    paragraphs, _byline = article_body(article)
    texts = split_paragraphs(paragraphs, min_chars, max_chars)
    return [Passage(article.id, i, text) for i, text in enumerate(texts)]
