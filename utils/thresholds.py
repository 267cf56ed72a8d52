"""Alert levels with hysteresis and confirmation: one spike neither alerts nor trips.

A :class:`LevelTracker` watches one level of one series (say memory % against 80):

* **Raising.** A sample *at or above* the level counts toward raising; the level raises on the
  ``raise_after``-th such sample in a row. A sample below the level restarts the count.
  So with the default of 3, a value of exactly 80.0 against a level of 80 counts, and
  80, 80, 80 raises on the third sample.
* **Clearing (hysteresis).** Once raised, a sample *strictly below* the clear level counts
  toward clearing; the level clears on the ``clear_after``-th such sample in a row. A sample at
  or above the clear level restarts that count. Between the clear level and the level nothing
  changes, which is what stops a series that flaps around the level from raising and clearing
  again and again: it gives one raise and one clear.
* **Missing samples** (``None``: a failed read, a warming-up CPU, too few latency samples)
  neither extend nor break a run.

Standard library only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class Severity(StrEnum):
    """How bad an alert is. The order matters: critical outranks warning."""

    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Return 1 for warning, 2 for critical."""
        return 2 if self is Severity.CRITICAL else 1


class Transition(Enum):
    """What a sample did to a level."""

    RAISED = "raised"
    CLEARED = "cleared"


class LevelTracker:
    """One level of one series, with hysteresis and confirmation.

    Args:
        level: Raise at or above this.
        clear_level: Clear strictly below this (at most ``level``).
        raise_after: Consecutive samples at or above ``level`` needed to raise (at least 1).
        clear_after: Consecutive samples below ``clear_level`` needed to clear (at least 1).
    """

    __slots__ = ("_run", "active", "clear_after", "clear_level", "level", "raise_after")

    def __init__(
        self, *, level: float, clear_level: float, raise_after: int, clear_after: int
    ) -> None:
        if clear_level > level:
            msg = f"clear level {clear_level} is above the level {level}"
            raise ValueError(msg)
        if raise_after < 1 or clear_after < 1:
            msg = "raise_after and clear_after must be at least 1"
            raise ValueError(msg)
        self.level = level
        self.clear_level = clear_level
        self.raise_after = raise_after
        self.clear_after = clear_after
        self.active = False
        self._run = 0

    def observe(self, value: float | None) -> Transition | None:
        """Feed one sample; return the transition it caused, if any."""
        if value is None:
            return None
        if not self.active:
            if value >= self.level:
                self._run += 1
                if self._run >= self.raise_after:
                    self.active = True
                    self._run = 0
                    return Transition.RAISED
            else:
                self._run = 0
            return None
        if value < self.clear_level:
            self._run += 1
            if self._run >= self.clear_after:
                self.active = False
                self._run = 0
                return Transition.CLEARED
        else:
            self._run = 0
        return None
