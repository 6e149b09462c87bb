"""The passage index: segmenting articles, the segment cache, posting lists, the on-disk format
and incremental builds."""
