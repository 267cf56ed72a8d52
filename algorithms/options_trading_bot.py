"""Placeholder options algorithm (replaced by the full bot, issue 6)."""

from AlgorithmImports import QCAlgorithm, Resolution, Slice


class OptionsTradingBot(QCAlgorithm):
    """Subscribe one option chain; trades nothing yet."""

    def initialize(self) -> None:
        """Set the dates, cash and the SPY option chain."""
        self.set_start_date(2024, 1, 1)
        self.set_end_date(2024, 3, 1)
        self.set_cash(100_000)
        self.add_equity("SPY", Resolution.MINUTE)
        option = self.add_option("SPY", Resolution.MINUTE)
        option.set_filter(lambda u: u.strikes(-5, 5).expiration(7, 45))

    def on_data(self, slice: Slice) -> None:
        """Do nothing yet."""
