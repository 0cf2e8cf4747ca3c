"""The command ``runner example-hello``, added to the command line by ``register_commands``."""

from __future__ import annotations

import click


@click.command("example-hello")
@click.option("--name", default="world", show_default=True, help="Whom to greet.")
def hello(name: str) -> None:
    """Greet NAME and list the plugins this distribution registers.

    \b
    Examples:
      runner example-hello
      runner example-hello --name Ada
    """
    from runner_example import __version__

    click.echo(f"Hello, {name}! runner-example-plugins {__version__} is installed.")
    click.echo(
        "plugins: swish huber amsgrad best_of_last warmup lecun checkerboard goldstein_price"
    )
