"""genbench's public plugin API: what a model, dataset or metric plugin implements.

Capabilities, not class hierarchies (docs/design.md): a model declares what it ``provides``, and
``CAPABILITIES`` is the one table of what each capability means: the methods a model must implement,
and the probe genbench runs on two images before any model trains.
- ``generator``: ``generate(z)`` / ``sample(n, seed)`` / ``latent_dim``  (FID, KID, SWD apply)
- ``inferrer``:  ``infer(x) -> z``, hence ``reconstruct(x)``          (MSE, LPIPS apply)
- ``critic``:    ``energy(x)``, lower = more data-like
- ``renderer``:  ``render_units(z, layer)``: basis functions in image space (NCC applies)
- ``tracer``:    ``trace_layer(z, layer, edit)``: a generator layer's activations for z, optionally
                 edited before the rest of the generator runs (with ``inferrer``: dissect applies)
Renderers and tracers answer at least for ``LAYER3`` ('b8', the 8x8 layer: the paper's layer 3).
A metric declares the capabilities it ``requires`` (else it reads 'n/a') and what else it ``needs``
(``METRIC_NEEDS``); the evaluator computes only the metrics whose requirements the model meets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from genbench.domains import Domain, count, positive

LAYER3 = "b8"  # the 8x8 generator layer (the paper's layer 3): what renderers and tracers must answer for


class Batch(NamedTuple):
    """A training batch: images in [-1, 1], shape (B, C, H, W), and their dataset indices."""

    x: Tensor
    index: Tensor


@dataclass
class DataInfo:
    """What a model may know about the data when it is built."""

    dataset: str
    image_size: int
    n_train: int
    channels: int = 3


@dataclass
class ModelConfig:
    """Fields every model config has. Subclass it as a dataclass; defaults are the ``paper`` values.

    ``PRESETS`` maps preset name -> field overrides for that preset (``tiny``, ``small``, ``paper``),
    applied on top of the harness-wide preset (genbench.run.config.PRESETS) and below ``--set`` overrides.
    ``steps`` is the one home of a run's length (the trainer trains to it; ``genbench run`` skips a run
    already trained to it): a subclass re-declares it only for another paper default, and sets a
    preset's value in ``PRESETS``.
    ``DOMAINS`` maps field name -> the values it may take (``genbench.domains``); a subclass's
    mapping adds to this one, and every field is checked before anything runs.
    """

    latent_dim: int = 100
    width: float = 1.0
    batch_size: int = 100
    steps: int = 20000
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    DOMAINS: ClassVar[dict[str, Domain]] = {"latent_dim": count, "width": positive, "batch_size": count,
                                            "steps": count}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class UnitRender:
    """One active unit's basis function rendered to image space (pre-tanh), docs/method.md section 5."""

    sample: int
    layer: str
    position: tuple[int, int]
    channel: int
    activation: float
    image: Tensor  # (C, H, W)
    extra: dict[str, Any] = field(default_factory=dict)


class GenerativeModel(nn.Module):
    """Base class for model plugins. Subclass, set ``Config`` and ``provides``, and implement
    ``train_step`` plus the methods of the capabilities you declare.

    A model owns its networks and optimizers (put optimizers in ``self.optimizers`` so that the
    default ``training_state`` checkpoints them) and any persistent state as buffers.
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    provides: ClassVar[tuple[str, ...]] = ("generator",)
    name: ClassVar[str] = ""  # set by the registry to the entry-point name
    # Buffers indexed by training-example index (row i belongs to example i), e.g. a persistent latent
    # bank: in data-parallel training each rank revises the rows of its examples and the rows are shared.
    example_buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ModelConfig, data: DataInfo):
        super().__init__()
        self.config = config
        self.data = data
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    # -- training ---------------------------------------------------------------------------
    def train_step(self, batches: Iterator[Batch], step: int) -> dict[str, float]:
        """One optimisation step. Pull as many batches as the method needs (a WGAN critic takes
        several); return the losses to log as floats."""
        raise NotImplementedError

    # -- generator --------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Samples from p(z); N(0, I) unless the model says otherwise."""
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    def generate(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 256) -> Tensor:
        """n images in [-1, 1], deterministic for a given seed."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        was_training = self.training
        self.eval()
        out = [self.generate(self.prior(min(batch_size, n - i), gen)).clamp(-1, 1).cpu()
               for i in range(0, n, batch_size)]
        self.train(was_training)
        return torch.cat(out) if out else torch.empty(0)

    def sample_chunks(self, n: int, seed: int, chunk: int = 500) -> Iterator[Tensor]:
        """The n samples the feature-space metrics score, in chunks of at most ``chunk`` (images in [-1, 1]).
        Chunk i is ``sample(size, seed * 1_000_003 + i)``, so n does not change the earlier samples. A fixed
        set of images (genbench.eval.external) yields its first n images instead, and may yield fewer."""
        for i in range(0, n, chunk):
            yield self.sample(min(chunk, n - i), seed=seed * 1_000_003 + i)

    # -- inferrer ---------------------------------------------------------------------------
    def infer(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        """z for images x. ``index`` gives the training-set indices when x are training images, so a
        model with persistent latent chains may start from them; None means unseen images."""
        raise NotImplementedError

    def reconstruct(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        return self.generate(self.infer(x, index)).clamp(-1, 1)

    # -- critic -----------------------------------------------------------------------------
    def energy(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    # -- renderer ---------------------------------------------------------------------------
    def render_units(self, z: Tensor, layer: str, top: int = 1) -> list[UnitRender]:
        """For each sample in z and each position of ``layer``, the ``top`` most active units'
        basis functions rendered to image space (pre-tanh)."""
        raise NotImplementedError

    # -- tracer -----------------------------------------------------------------------------
    def trace_layer(self, z: Tensor, layer: str,
                    edit: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Generate from z, recording the output (B, C, h, w) of the generator layer ``layer`` (e.g.
        'b8', the 8x8 layer 3); with ``edit``, that output is replaced by ``edit(output)`` before the
        layers above run (GAN Dissection's intervention). Returns (images in [-1, 1], activations)."""
        raise NotImplementedError

    # -- state ------------------------------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        """Everything needed to resume: parameters, buffers (e.g. a latent bank) and optimizers."""
        return {"model": self.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])


def capabilities(model: GenerativeModel | type[GenerativeModel]) -> frozenset[str]:
    return frozenset(model.provides)


# -- the capability table: methods to implement and a probe run before training ------------------
RANGE_TOLERANCE = 1e-3  # samples may overshoot [-1, 1] by float rounding, not more


def _describe(x: Any) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else f"a {type(x).__name__}"


def _probe_generator(model: GenerativeModel, real: Tensor) -> str | None:
    n, want = len(real), tuple(real.shape)
    x = model.sample(n, seed=0)
    if not isinstance(x, Tensor) or tuple(x.shape) != want:
        return f"sample({n}) returned {_describe(x)}, expected shape {want}"
    if not x.is_floating_point():
        return f"sample({n}) returned dtype {x.dtype}, expected floating-point images in [-1, 1]"
    if not torch.isfinite(x).all():
        return f"sample({n}) returned non-finite values"
    if x.abs().max().item() > 1 + RANGE_TOLERANCE:
        return f"sample({n}) returned values in [{x.min().item():.3g}, {x.max().item():.3g}], expected [-1, 1]"
    return None


def _probe_inferrer(model: GenerativeModel, real: Tensor) -> str | None:
    with torch.enable_grad():  # inference may run Langevin dynamics
        z = model.infer(real)
    want = (len(real), model.latent_dim)
    if not isinstance(z, Tensor) or tuple(z.shape) != want:
        return f"infer(x) returned {_describe(z)}, expected a latent of shape {want} (latent_dim)"
    if not torch.isfinite(z).all():
        return "infer(x) returned non-finite latents"
    return None


def _probe_critic(model: GenerativeModel, real: Tensor) -> str | None:
    e = model.energy(real)
    if not isinstance(e, Tensor) or e.numel() != len(real) or not torch.isfinite(e).all():
        return f"energy(x) returned {_describe(e)}, expected one finite number per image"
    return None


def _probe_renderer(model: GenerativeModel, real: Tensor) -> str | None:
    units = model.render_units(model.prior(1, torch.Generator().manual_seed(0)), LAYER3, top=1)
    if not isinstance(units, list) or not all(isinstance(u, UnitRender) for u in units):
        return f"render_units(z, '{LAYER3}') returned {_describe(units)}, expected a list of UnitRender"
    bad = [u for u in units if not isinstance(u.image, Tensor) or tuple(u.image.shape) != tuple(real.shape[1:])]
    if bad:
        return f"render_units gave an image of {_describe(bad[0].image)}, expected shape {tuple(real.shape[1:])}"
    return None


def _probe_tracer(model: GenerativeModel, real: Tensor) -> str | None:
    out = model.trace_layer(model.prior(len(real), torch.Generator().manual_seed(0)), LAYER3)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, Tensor) for t in out)):
        return f"trace_layer(z, '{LAYER3}') returned {_describe(out)}, expected (images, activations)"
    images, act = out
    if tuple(images.shape) != tuple(real.shape) or act.dim() != 4 or len(act) != len(real):
        return (f"trace_layer(z, '{LAYER3}') returned images of {_describe(images)} and activations of "
                f"{_describe(act)}, expected {tuple(real.shape)} and (n, C, h, w)")
    return None


@dataclass(frozen=True)
class Capability:
    methods: tuple[str, ...]  # what a model declaring it must implement (beyond GenerativeModel's defaults)
    probe: Callable[[GenerativeModel, Tensor], str | None]  # on two real images: a problem, or None


CAPABILITIES: dict[str, Capability] = {
    "generator": Capability(("generate",), _probe_generator),
    "inferrer": Capability(("infer",), _probe_inferrer),
    "critic": Capability(("energy",), _probe_critic),
    "renderer": Capability(("render_units",), _probe_renderer),
    "tracer": Capability(("trace_layer",), _probe_tracer),
}


def check_capabilities(cls: type[GenerativeModel]) -> None:
    """Raise if a model declares an unknown capability or one whose methods it does not implement."""
    unknown = set(cls.provides) - set(CAPABILITIES)
    if unknown:
        raise TypeError(f"unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")
    for cap in cls.provides:
        for meth in CAPABILITIES[cap].methods:
            if getattr(cls, meth) is getattr(GenerativeModel, meth):
                raise TypeError(f"{cls.__name__} declares '{cap}' but does not implement {meth}()")


def interface_problem(model: GenerativeModel, real: Tensor) -> str | None:
    """Run the probe of every capability the model declares on ``real`` (n images in [-1, 1] on the
    model's device), in eval mode: the first problem as a phrase, or None. A crash is a problem too."""
    was = model.training
    model.eval()
    try:
        for cap in ("generator", *sorted(set(model.provides) - {"generator"})):
            problem = CAPABILITIES[cap].probe(model, real)
            if problem:
                return problem
    except Exception as exc:  # a crash in the plugin's own code is its bug, reported by name
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    finally:
        model.train(was)
    return None


# -- datasets ---------------------------------------------------------------------------------
@dataclass
class ImageSet:
    """Images as uint8 (N, C, H, W) in memory, plus dataset-specific metadata (e.g. parses)."""

    images: Tensor
    name: str
    split: str = "train"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def as_float(self, index: Tensor | slice | None = None) -> Tensor:
        """Images in [-1, 1] (docs/method.md section 1: (x/255 - 0.5)/0.5)."""
        imgs = self.images if index is None else self.images[index]
        return imgs.float().div(127.5).sub(1.0)


@dataclass
class PartMasks:
    """Ground-truth parts of some images: ``masks`` (n, K, H, W) bool, one channel per concept;
    ``concepts`` their K names; ``groups`` for each concept the group it belongs to (on ``shapes`` the
    part's slot: a unit that knows only *where* a part is, not which, is a detector of the group)."""

    masks: Tensor
    concepts: list[str]
    groups: list[str]


class Dataset:
    """Base for dataset plugins. ``load`` returns an ImageSet for ``split`` in {'train', 'heldout'}
    at ``image_size``, with at most ``n`` images; the same arguments give the same images.

    A dataset whose parts are known may also define ``part_masks(images, index) -> PartMasks`` for
    the images ``images[index]`` (the ``dissect`` metric applies only where it exists)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default_n: ClassVar[int | None] = None

    def load(self, split: str, image_size: int, n: int | None = None, seed: int = 0,
             **options: Any) -> ImageSet:
        raise NotImplementedError


# -- metrics ----------------------------------------------------------------------------------
class Status(str, Enum):  # enum.StrEnum from Python 3.11 on
    """A record's status. A member is its string ('n/a' == Status.NA, str and format give 'n/a'): records
    written with either read the same, in results.json and in a records frame's ``status`` column."""

    OK = "ok"
    WARN = "warn"  # a value computed under a weaker protocol than the paper's (e.g. too few samples): shown with †
    NA = "n/a"  # the metric does not apply to the model (a capability it lacks)
    UNAVAILABLE = "unavailable"  # the metric could not run here (e.g. missing weights)
    ERROR = "error"
    FAILED = "failed"  # the run did not finish (NaN/inf)

    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def has_value(self) -> bool:
        """Whether a record of this status carries a value (only these count in tables and tests)."""
        return self in (Status.OK, Status.WARN)


VALUED: tuple[Status, ...] = tuple(s for s in Status if s.has_value)  # the statuses that carry a value


def has_value(status: str) -> bool:
    """Whether a record of ``status`` (a Status or its string; any other string: no) carries a value."""
    return status in VALUED


@dataclass
class Score:
    """One number a metric produced. ``value`` is None unless ``status`` == 'ok' or 'warn'."""

    name: str
    value: float | None
    status: Status | str = Status.OK  # a Status (or its string): ok | warn | n/a | unavailable | error
    note: str = ""
    higher_is_better: bool | None = False  # None: descriptive, no better direction (no best mark, no Δ)
    extra: dict[str, Any] = field(default_factory=dict)  # a count says out of how many: {"of": 12} (shown whole)


INCEPTION = "inception"  # pytorch-fid's InceptionV3: the network FID, KID, IS and prdc are defined in
UNVERIFIED_SUFFIX = "_unverified"

# -- feature spaces ---------------------------------------------------------------------------------------
# A metric computed in a feature space is named ``<stem>_<space>`` (``fd_dinov2``, ``kid_effnet``,
# ``precision_clip``), as dgm-eval and EDM2 name FD_DINOv2; the names the field (and genbench before it had
# spaces) already gives some pairs are kept: FID is ``fd`` in Inception, KID ``kid``, and so on.
LEGACY_NAMES = {("fd", INCEPTION): "fid", ("kid", INCEPTION): "kid", ("prdc", INCEPTION): "prdc",
                ("precision", INCEPTION): "precision", ("recall", INCEPTION): "recall",
                ("density", INCEPTION): "density", ("coverage", INCEPTION): "coverage",
                ("copying", "rand"): "copying", ("cmmd", "clip"): "cmmd"}


def space_name(stem: str, space: str) -> str:
    """The name of statistic ``stem`` computed in feature space ``space``: ``fd_dinov2``, or the field's own
    name where it has one (``fid`` for ``fd`` in Inception, ``cmmd`` for ``cmmd`` in CLIP)."""
    return LEGACY_NAMES.get((stem, space), f"{stem}_{space}")


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file a feature space is built from. ``sha256`` is the pinned hash (a prefix is
    accepted where the publisher pins only one, as torch hub file names do; None where the publisher pins none:
    the file's hash is then recorded but cannot be checked); ``url`` the official source (None: not
    downloadable, e.g. shipped by a package); ``package`` where an installed package ships it
    (``"module:relative/path"``)."""

    file: str
    sha256: str | None
    url: str | None = None
    licence: str = ""
    package: str | None = None
    size: int | None = None  # bytes, when published (shown before a download)


class FeatureSpace:
    """Base for feature-space plugins (entry-point group ``genbench.spaces``): a network that maps images to
    feature vectors, its preprocessing and its weights. Every metric family that takes a space (FD, KID,
    precision/recall/density/coverage, the copying test, CMMD, FD∞, AuthPct) is computed in every installed
    space, named by ``space_name``. ``build(path)`` returns a module taking images in [0, 1], (B, 3, H, W) at
    their own size, and returning (B, ``dims``) features: the preprocessing (resize, normalisation) is inside it
    and described by ``preprocessing``. ``missing()`` says what must be installed when the library it is built
    with is absent (None when nothing is missing). A space may also define ``make_extractor(weights, device)``
    to give its own feature extractor (Inception and the random CNN keep the extractors their published and
    recorded values came from)."""

    name: ClassVar[str] = ""
    network: ClassVar[str] = ""  # the network in words: architecture, training data, which layer or token
    dims: ClassVar[int] = 0
    preprocessing: ClassVar[dict[str, str]] = {}  # resize (mode and size), normalisation, the layer read
    weights: ClassVar[WeightsFile | None] = None  # None: the weights ship with genbench itself
    comparable: ClassVar[str] = ""  # which published numbers its values compare with ("nothing published")
    batch_size: ClassVar[int] = 50
    rank: ClassVar[int] = 60  # where its columns go after each family's first (inception 0, rand 30)

    def missing(self) -> str | None:
        return None

    def known_paths(self) -> list[tuple[Path, str]]:
        """Other places the weights file may already be (e.g. the torch hub cache), as (path, where)."""
        return []

    def identity(self, weights: Weights) -> dict[str, Any]:
        """What the features depend on, for protocol ids: the space, network, preprocessing and weights hash."""
        out: dict[str, Any] = {"space": self.name, "network": self.network, **self.preprocessing,
                               "weights_sha256": weights.sha256 or f"unavailable: {weights.reason}"}
        if weights.sha256 and not weights.verified:
            out["weights_verified"] = False
        return out

    def build(self, path: Path | None) -> torch.nn.Module:
        raise NotImplementedError


@dataclass(frozen=True)
class Weights:
    """A pretrained network's weights as resolved once per command: which file, its SHA-256, whether it is
    the published file, and why not (or why there is none). Metrics receive it; none looks weights up."""

    network: str
    path: Path | None = None
    sha256: str | None = None
    verified: bool = False
    reason: str = ""  # why unavailable (path None) or why unverified; empty for the published file

    @property
    def available(self) -> bool:
        return self.path is not None

    def score_name(self, name: str) -> str:
        """The name a score computed with these weights is recorded under: ``name`` for the published file,
        ``name_unverified`` otherwise (such a value is never the metric it imitates)."""
        return name if self.verified else name + UNVERIFIED_SUFFIX


@dataclass(frozen=True)
class EvalSettings:
    """Everything an evaluation is set to, resolved once per command: the samples per metric (``n_eval``;
    ``n_fid`` caps the feature-space metrics' n, None = the training-set size), the cache folder
    (features, chance levels; None = no cache), where a crashing metric's traceback goes, and the
    pretrained networks' weights by network name."""

    n_eval: int
    n_fid: int | None = None
    cache_dir: Path | None = None
    error_log: Path | None = None
    networks: tuple[Weights, ...] = ()

    def weights(self, network: str) -> Weights:
        """The resolved weights of ``network`` (unavailable, with the reason, when none were resolved)."""
        for w in self.networks:
            if w.network == network:
                return w
        return Weights(network, reason=f"no weights were resolved for the {network} network")


@dataclass
class EvalContext:
    """What a metric gets: the trained model, the data, the protocol's seed and the resolved settings."""

    model: GenerativeModel
    dataset: Dataset
    train: ImageSet
    heldout: ImageSet | None
    device: torch.device
    seed: int
    settings: EvalSettings

    @property
    def n_eval(self) -> int:
        return self.settings.n_eval

    @property
    def cache_dir(self) -> Path | None:
        return self.settings.cache_dir


METRIC_NEEDS = {
    "inception_weights": "pytorch-fid's verified Inception weights file (named --metrics stop early without it)",
    "part_masks": "a dataset with ground-truth part masks (Dataset.part_masks); elsewhere the scores read n/a",
}


class Metric:
    """Base for metric plugins. ``requires``: capabilities the model must have, else 'n/a' (checked against
    ``CAPABILITIES`` when the plugin registers). ``needs``: what else it uses (keys of ``METRIC_NEEDS``).
    ``columns``: the scores it writes, in table order (the first is named like the metric), and ``rank``
    where they go among the tables' columns (lower first; None: after the ranked ones, as recorded).
    ``protocol(ctx)`` returns everything that determines the number (hashed into the protocol id)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset({"generator"})
    needs: ClassVar[frozenset[str]] = frozenset()
    columns: ClassVar[tuple[str, ...]] = ()
    rank: ClassVar[int | None] = None
    higher_is_better: ClassVar[bool | None] = False
    version: ClassVar[int] = 1
    # A family computed in every feature space (FD, KID, ...) sets ``family`` (its stem, e.g. "fd") and, when it
    # writes several statistics, their ``stems``; the registry makes one metric per installed space
    # (``in_space``), named ``space_name(family, space)``, and sets ``space``.
    family: ClassVar[str] = ""
    stems: ClassVar[tuple[str, ...]] = ()
    space: ClassVar[str | None] = None

    @classmethod
    def in_space(cls, space: type[FeatureSpace]) -> type[Metric]:
        """This family's metric in feature space ``space``: its name and columns follow ``space_name``, its
        columns go ``space.rank`` places after the family's (``fid`` 10, ``fd_rand`` 40)."""
        columns = tuple(space_name(stem, space.name) for stem in (cls.stems or (cls.family,)))
        return type(f"{cls.__name__}[{space.name}]", (cls,),
                    {"space": space.name, "name": space_name(cls.family, space.name), "columns": columns,
                     "rank": None if cls.rank is None else cls.rank + space.rank,
                     "__module__": cls.__module__, "__doc__": cls.__doc__})

    @classmethod
    def space_used(cls) -> str | None:
        """The feature space whose weights the metric uses: its ``space``, or Inception for a metric that
        ``needs`` the Inception weights (``isc``, third-party metrics written before spaces); else None."""
        return cls.space or (INCEPTION if "inception_weights" in cls.needs else None)

    def applies(self, model: GenerativeModel) -> bool:
        return self.requires <= capabilities(model)

    def unmet_need(self, ctx: EvalContext) -> str | None:
        """Why the metric cannot score on this context's dataset (a need it does not meet), or None."""
        if "part_masks" in self.needs and getattr(ctx.dataset, "part_masks", None) is None:
            return f"dataset '{ctx.train.name}' has no ground-truth part masks"
        return None

    def protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return {"n": ctx.n_eval, "seed": ctx.seed}

    def compute(self, ctx: EvalContext) -> list[Score]:
        raise NotImplementedError


def check_metric(cls: type[Metric]) -> None:
    """Raise if a metric requires an unknown capability or needs something genbench does not know."""
    unknown = set(cls.requires) - set(CAPABILITIES)
    if unknown:
        raise TypeError(f"requires unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")
    unknown = set(cls.needs) - set(METRIC_NEEDS)
    if unknown:
        raise TypeError(f"needs {sorted(unknown)}, which genbench does not know; known: {sorted(METRIC_NEEDS)}")
