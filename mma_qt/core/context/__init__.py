"""The context each tier sees: repository map, skeletons, files, answers, budgets. No Qt.

See :mod:`.assembly`. Blocking (file system): the run calls it in its worker pool.
"""

from .assembly import Assembly, ContextBuilder
from .repomap import RepoMap, repository_map

__all__ = ["Assembly", "ContextBuilder", "RepoMap", "repository_map"]
