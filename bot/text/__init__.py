"""Vietnamese text: normalisation, cleaning page debris, passages, pyvi segmentation and index terms."""
