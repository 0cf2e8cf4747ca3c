"""The plugin room: what a plugin is, which hooks register it, and the registry of them all.

- :mod:`~runner.plugin.hookspecs`: the hooks (``register_activations``, ...) and the markers;
- :mod:`~runner.plugin.params`: :class:`Param` declarations and the :class:`Plugin` base class;
- :mod:`~runner.plugin.kinds`: the base class of each kind (activation, cost, step rule,
  strategy, initializer, data set) and the contracts between them;
- :mod:`~runner.plugin.registry`: the plugin-manager factory and the :class:`Registry`.

May import :mod:`runner.spec` and :mod:`runner.errors` only (``docs/architecture.md``).
"""
