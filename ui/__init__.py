"""Desktop dashboard widgets (PySide6), e.g. ``from ui import create_resource_widget``."""
