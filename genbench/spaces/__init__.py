"""The built-in feature spaces (entry-point group ``genbench.spaces``; a third-party package adds one the same
way): each is a network, its preprocessing and its pinned weights (genbench.api.FeatureSpace).

- ``inception``: pytorch-fid's InceptionV3 pool3 (FID, KID, IS, precision/recall keep their meaning and values).
- ``rand``: genbench's frozen random CNN (ships with genbench; comparable with nothing published).
- ``effnet``: EfficientNet-Lite0 trained on ImageNet, weights installed from the package registry with genbench,
  so every install has a trained space offline (comparable with nothing published).
- ``dinov2`` (ViT-L/14; ``dinov2_b``, ``dinov2_s`` smaller): the CLS token, EDM2's FD_DINOv2 protocol.
- ``clip``: CLIP ViT-L/14@336 image embeddings, CMMD's protocol.
"""
