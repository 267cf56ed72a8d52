"""The project's one exception root and its specific subclasses.

Every error a user can cause or meet carries enough context to act on: which file, which
field or line, the value seen, what is allowed. Commands translate them into a message and an
exit code in one place (their ``main``): :class:`InputError` means bad input (exit 2),
anything else derived from :class:`ProjectError` is a failure outside our control (exit 1).
"""

from __future__ import annotations

from pathlib import Path


class ProjectError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 1


class InputError(ProjectError):
    """Bad input from the user: a file, a setting, an option. Exit code 2."""

    exit_code = 2


class SettingsError(InputError):
    """``config/settings.json`` (or a config mapping) is missing or invalid.

    Attributes:
        path: The settings file, or ``None`` for an in-memory mapping.
        problems: One line per problem, each naming the JSON path, the value and what is allowed.
    """

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        where = str(path) if path is not None else "settings"
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where}: invalid settings\n{body}")


class UnknownNodeError(InputError):
    """A node model name that is not in the catalog (or not of the family asked for)."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(message)


class AnalysisError(InputError):
    """An algorithm that cannot be analysed: missing, not Python, a syntax error, no QCAlgorithm.

    Attributes:
        path: The algorithm file.
        line: The 1-based line of the problem, when there is one.
    """

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
