"""The atlas: plots, pages and studies built from the loss registry."""
