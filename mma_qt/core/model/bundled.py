"""The one way to read mma_qt's bundled data: prompts, the sample epic, demo scenarios and
``pricing.toml``. Pure logic, no Qt.

The data lives in ``resources/`` at the top of the repository. A wheel ships it inside the
package as ``mma_qt/resources``; a source checkout and an editable install read it where it
is. The data always comes from beside the ``mma_qt`` package that is running, so a run
from the repository root (whose ``mma_qt/`` shadows an installed one) reads the checkout's
data, never another copy's.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["bundled", "bundled_root"]

#: mma_qt/core/model/bundled.py: parents[3] is the folder that holds the mma_qt package.
_CHECKOUT = Path(__file__).resolve().parents[3] / "resources"


def bundled_root() -> Traversable:
    """The folder of bundled data for the running ``mma_qt``.

    Raises FileNotFoundError naming both places looked in when neither has it.
    """
    installed = resources.files("mma_qt").joinpath("resources")
    if installed.is_dir():
        return installed
    if _CHECKOUT.is_dir():
        return _CHECKOUT
    raise FileNotFoundError(
        f"mma_qt's bundled data is missing: neither {installed} (an installed package) nor "
        f"{_CHECKOUT} (a source checkout) exists; reinstall mma-qt"
    )


def bundled(*parts: str) -> Traversable:
    """A bundled file or folder, e.g. ``bundled("prompts", "tier1.md")``."""
    return bundled_root().joinpath(*parts)
