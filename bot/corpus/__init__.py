"""Articles: the typed record, loading the corpus, adding files to it, metadata read from text, duplicates."""
