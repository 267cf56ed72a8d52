"""Fixtures that run the real options bot on the LEAN stand-in (``lean_stand_in.py``)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.algorithms.lean_stand_in import LeanStandIn, Order, load_algorithm
from tests.utils.fakes import FakeProbe
from utils import settings as settings_module

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOT_PATH = PROJECT_ROOT / "algorithms" / "options_trading_bot.py"
CONFIG_PATH = PROJECT_ROOT / "config" / "settings.json"


@pytest.fixture(scope="session")
def bot_module() -> ModuleType:
    """Return algorithms/options_trading_bot.py imported against the LEAN stand-in."""
    return load_algorithm(BOT_PATH)


@dataclass
class BotRun:
    """One run of the bot on the stand-in: the engine, the bot and its fake system probe."""

    engine: LeanStandIn
    probe: FakeProbe | None

    @property
    def bot(self) -> Any:
        """Return the algorithm instance."""
        return self.engine.algorithm

    def check_resources(self, times: int = 1) -> None:
        """Advance time so the scheduled resource check runs ``times`` more times."""
        interval = self.bot.resource_monitor.monitoring.check_interval_seconds
        self.engine.advance(interval * times)

    def open_spread(self, ticker: str = "SPY", spot: float = 470.0) -> list[Order]:
        """Quote a chain, deliver data in the entry window and fill the entry; return it."""
        self.to_entry_window()
        self.engine.quote_chain(ticker, spot)
        self.engine.send_data()
        entry = self.engine.groups("combo_limit")[-1]
        self.engine.fill([o.order_id for o in entry])
        return entry

    def to_entry_window(self) -> None:
        """Advance to 10:30 New York time if it is earlier."""
        now = self.engine.time
        target = now.replace(hour=10, minute=30, second=0, microsecond=0)
        if now < target:
            self.engine.advance((target - now).total_seconds())


StartBot = Callable[..., BotRun]


@pytest.fixture
def start_bot(
    bot_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartBot]:
    """Return ``start(live=False, settings=None, probe=FakeProbe(), **engine_options)``.

    ``settings`` changes config/settings.json's ``quantconnect`` sections for this run, e.g.
    ``{"resource_limits": {"max_option_chains": 2}}``. ``probe=None`` uses the real system
    probe. The Object Store and temporary folders are under ``tmp_path``.
    """
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    runs: list[BotRun] = []

    def start(
        *,
        live: bool = False,
        settings: dict[str, dict[str, Any]] | None = None,
        probe: FakeProbe | str | None = "fake",
        store: Path | None = None,
        **engine_options: Any,
    ) -> BotRun:
        if settings is not None:
            data = json.loads(CONFIG_PATH.read_text(encoding="utf-8"))
            for section, values in settings.items():
                data["quantconnect"].setdefault(section, {}).update(values)
            path = tmp_path / f"settings-{len(runs)}.json"
            path.write_text(json.dumps(data), encoding="utf-8")
            monkeypatch.setattr(settings_module, "DEFAULT_SETTINGS_PATH", path)
        fake = FakeProbe() if probe == "fake" else probe
        holder: dict[str, LeanStandIn] = {}

        class BotUnderTest(bot_module.OptionsTradingBot):
            def _monitor_clock(self) -> Any:
                return holder["engine"].clock

            def _system_probe(self) -> Any:
                return fake

        engine = LeanStandIn(
            BotUnderTest, live_mode=live, object_store=store or tmp_path / "store", **engine_options
        )
        holder["engine"] = engine
        run = BotRun(engine, fake if isinstance(fake, FakeProbe) else None)
        runs.append(run)
        engine.initialize()
        return run

    yield start
    for run in runs:  # close metrics logs and detach the bot's log handler
        if getattr(run.bot, "resource_monitor", None) is not None:
            run.engine.end()
