"""Finding passages: BM25 over posting lists (compiled scorer), search over index parts, re-ranking."""
