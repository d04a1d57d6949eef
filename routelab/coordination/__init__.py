"""Learned multi-robot coordination: the GNN-VAE that decodes deadlock-free passing orders (issue 7).

- :mod:`routelab.coordination.features`: the coordination graph as tensors (interval nodes, precedence and
  conflict edges, the feature layout a checkpoint is tied to);
- :mod:`routelab.coordination.gnnvae`: the model (GATv2 encoder and decoder, rank decoding, checkpoints);
- :mod:`routelab.coordination.dataset`: MILP-labelled training sets built through the bench runner;
- :mod:`routelab.coordination.train`: the CVAE training loop behind ``routelab train gnnvae``.

The solver itself (``gnnvae``) is :mod:`routelab.solvers.gnnvae`. Importing this package imports nothing heavy;
the modules that need torch import it themselves.
"""
