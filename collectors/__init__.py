"""Built-in collector plugins. Each registers through the `monitor.collectors` entry-point
group in pyproject.toml, exactly as a third-party plugin would."""
