"""The built-in plugins, installed as ``runner.plugins`` and registered through the entry-point
group ``runner`` exactly as a third-party package registers its own."""
