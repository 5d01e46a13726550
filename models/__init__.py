"""Model ports written in plain TTNN through `ttfuse.ttnn`: `models.boltz` (Boltz-2), `models.sd35`."""
