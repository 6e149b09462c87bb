"""Answers: the best passages of a question with their article's title, source and date; sources."""
