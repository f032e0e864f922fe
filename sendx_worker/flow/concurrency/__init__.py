"""How many calls to a team may be in flight in one process: an AIMD limit and the slots it hands out."""

from .aimd import Aimd
from .limiter import Limiter

__all__ = ["Aimd", "Limiter"]
