"""The machinery the metric plugins share: feature extractors (Inception, the random CNN) and their
verified weights, Fréchet and kernel distances, feature caching, latent inference and reconstruction,
normalised cross-correlation, and network dissection. The plugins in ``genbench.metrics`` state a
protocol and call these; nothing here knows about runs, records or tables."""
