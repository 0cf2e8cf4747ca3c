"""The engine room: networks trained by backpropagation, in numpy, a population at a time.

- :mod:`~runner.engine.settings`: the core settings every run has, with their defaults;
- :mod:`~runner.engine.data`: a data set split, scaled and encoded for a network;
- :mod:`~runner.engine.network`: forward and backward passes over a population;
- :mod:`~runner.engine.buffers`: the flat parameter, gradient and step-rule buffers;
- :mod:`~runner.engine.training`: the training loop (epochs, batches, stop rules, history);
- :mod:`~runner.engine.population`: a task of run specifications trained in one pass;
- :mod:`~runner.engine.budget`: what a population is estimated to cost, memory and time;
- :mod:`~runner.engine.trained`: a trained network's architecture, weights and predictions;
- :mod:`~runner.engine.estimators`: the scikit-learn estimators on the same path.

May import :mod:`runner.plugin`, :mod:`runner.spec` and :mod:`runner.errors`
(``docs/architecture.md``); never MLflow, pandas or dask.
"""
