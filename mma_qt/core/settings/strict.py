"""What every table of ``config.toml`` shares: a strict model and the URL check. Pure, no Qt."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A table that rejects unknown keys and validates each assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def check_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value
