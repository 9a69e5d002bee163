"""Bayesian optimisation: a Gaussian-process surrogate and log expected improvement.

How a proposal is made:

1. **Initial design.** Until ``n_initial`` results are in (pending trials do not
   count: a model of one or two results would lead the whole batch astray),
   proposals come from a scrambled Sobol sequence in the encoded box, where an
   ``auto`` coordinate is in its prior scale (log for a range over two decades,
   see :mod:`fasthpo.strategies.scale_detection`), so the lower decades are
   visited before the model can know whether they matter.
2. **Model.** Observations are encoded (categoricals one-hot), their values
   robustly standardised (a diverged run cannot flatten the rest) and bent by a
   Yeo-Johnson power fitted by maximum likelihood, so that skewed values such as
   Rosenbrock's look Gaussian to the model (:mod:`fasthpo.gp.transforms`), and a
   Matérn-5/2 ARD GP is fitted by MAP. *What it is fitted to*: the
   hyperparameters on at most ``fit_points`` (200) observations — the best half
   and a random sample of the rest — and the GP is then conditioned on at most
   ``max_points`` (1,500, chosen the same way) with one factorisation, so the
   first proposal after loading a large sweep costs one small fit, not an
   O(n³) optimisation. *Refit policy*: the hyperparameters are refitted at
   every step while n ≤ ``refit_all_below`` (300), then whenever n has grown by
   ``refit_growth`` (10 %) since the last fit, or the GP's conditioning set has
   grown by as much past ``max_points`` (in a sweep of 10,000 results that is
   every 150, not every 1,000: each proposal costs O(size²) in that set); in
   between, new results extend the Cholesky factor by rank-one updates with the
   hyperparameters and output transform held fixed. A refit starts from the previous hyperparameters with
   a loose tolerance (it sits near the optimum already); up to 40 observations
   it also restarts from the prior mode. A first fit on 150 points or more
   starts from a quick fit on 50 of them, with the same loose tolerance; one on
   50–149 points stops at a looser tolerance than a run's first fit. Without
   warped (``auto``) coordinates the fit from each start is one native call (a
   projected L-BFGS around the fused likelihood pass: kernel, Cholesky, inverse,
   gradient); with them each evaluation is one native call under scipy's L-BFGS-B.
3. **Pending trials** (running ones, and earlier proposals of the same batch)
   enter as fantasies: a copy of the GP is conditioned on each at its posterior
   mean raised to at least the best observed value, in one block Cholesky
   extension, and the incumbent stays the best *observed* value. A point next to
   a pending one is then worth little, so the next proposal moves elsewhere; and
   an optimistic guess (the plain kriging believer, ``batch="believer"``) can
   neither lower the incumbent nor pull the batch after it. On models of at most
   ``MARGINAL_UP_TO`` (100) results (``batch="marginal"``, the default) LogEI is
   averaged over the MAP model and ``HYPER_SAMPLES`` models whose hyperparameters
   are drawn from a Laplace approximation of their posterior
   (:mod:`fasthpo.gp.hyperparameter_samples`), each with the same fantasies: a
   proposal made while results are outstanding cannot wait for the next fit to
   correct an early, overconfident one. ``batch="capped"`` is the MAP model
   alone. In both, from 8 running trials on (``EXPLOIT_FROM``), a quarter of them
   (``EXPLOIT_SHARE``) come from
   *exploiting slots*: LogEI of the same models without fantasies, with a ball of
   radius ``EXPLOIT_RADIUS`` (0.05 in the unit cube) around each pending point
   excluded (:mod:`fasthpo.gp.exploitation`), so refinement next to the incumbent
   goes on while pending points sit there. Other modes, kept for measurement: constant liars, averaged
   posterior-sampled fantasy models (``sampled``), local penalisation
   (``penalised``); docs/benchmarks.md ("Parallel trials") compares them.
4. **Acquisition.** LogEI is evaluated on Sobol candidates plus perturbations
   of the best observed points, both made in the model's warped space (``auto``
   coordinates bent by their fitted warp, see :mod:`fasthpo.gp.warping`) and
   mapped back by the warp's inverse; the best few are polished by L-BFGS-B with
   analytic gradients (continuous and integer coordinates), snapped to valid
   encodings, and the best that is not a duplicate of an observed or pending
   configuration is proposed. On a model of more than 400 points most
   candidates are discarded by a cheap upper bound on their LogEI first (see
   :meth:`fasthpo.gp.acquisition.LogExpectedImprovement.ranked`); the best are
   scored exactly. A leader sitting on a bound of the box where LogEI is nearly flat
   takes the incumbent's value in that coordinate instead (see
   :func:`fasthpo.gp.acquisition_search.release_edges`): an edge is proposed when the
   model prefers it, not because the variance grows towards the faces, or when no
   result lies on that face yet (its first visit is information).
   With 10 or more continuous or integer coordinates, a sequential proposal (no
   pending trials) is searched in a trust region around the incumbent instead of the
   whole box (:mod:`fasthpo.gp.trust_region`): it grows after three improvements in a
   row, shrinks after max(4, d) proposals without one, and starts again
   when it collapses. From 15 model coordinates the hyperparameter priors expect
   shorter lengthscales and more noise (:mod:`fasthpo.gp.priors`), so that the
   region's sides do not stretch across the box along coordinates a few dozen
   points cannot resolve. A sequential proposal also keeps out of a ball of radius
   ``PLATEAU_RADIUS`` (0.05) around each observation whose result repeats a nearby
   observation's exactly (:mod:`fasthpo.strategies.plateaus`): a metric that is
   constant over a region (a forest's ``max_features`` rounding to the same count)
   would otherwise draw proposal after proposal onto the plateau its incumbent sits on.
5. **Scale verdicts.** Each fit also says, for every ``auto`` hyperparameter,
   which scale explains the data best — linear, log or reverse-log — by a profile
   likelihood comparison (``detected_scaling``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.acquisition_search import CandidateSearch, rank_candidates
from fasthpo.gp.exploitation import ExcludingAcquisition, exploiting_turn
from fasthpo.gp.fantasies import (
    FantasyLogEI,
    PenalisedLogEI,
    lipschitz_estimate,
    sample_fantasies,
)
from fasthpo.gp.hyperparameter_samples import AveragedLogEI, laplace_samples, resampled
from fasthpo.gp.model import (
    FitSettings,
    GaussianProcess,
    Hyperparameters,
    NegLogPosterior,
    fit_hyperparameters,
)
from fasthpo.gp.threads import single_threaded_blas
from fasthpo.gp.transforms import PowerStandardizer
from fasthpo.gp.trust_region import TrustRegion
from fasthpo.gp.warping import InputWarp
from fasthpo.objective import Direction
from fasthpo.space import SearchSpace
from fasthpo.strategies import scale_detection
from fasthpo.strategies.base import Observations, check_count, config_key
from fasthpo.strategies.encoding import SpaceEncoder
from fasthpo.strategies.plateaus import PLATEAU_RADIUS, TiedValues
from fasthpo.strategies.random import finite_size
from fasthpo.strategies.sobol import scrambled_sobol

log = logging.getLogger("fasthpo.bayesian")

#: The first fit of a model starts from the prior mode. A relative tolerance of 1e-6
#: left the fitted posterior and held-out predictions unchanged against scipy's 2e-9
#: (Levy-20, n = 300) and saves a tenth of the evaluations.
FRESH_FIT = FitSettings(maxiter=100, ftol=1e-6)
#: A first fit on ``MANY_POINTS`` observations or more that has no coarse stage (a resumed
#: job or a rebuilt optimizer told 50–149 results) stops at a relative decrease of 3e-5:
#: the last iterations of the tight fit gain hundredths of a nat. At n = 100 it takes a
#: fifth fewer evaluations with the same held-out predictive density (docs/benchmarks.md).
#: The first fit of a sequential run (n_initial points) and the coarse stage keep ``FRESH_FIT``.
FRESH_FIT_MANY_POINTS = FitSettings(maxiter=100, ftol=3e-5)
MANY_POINTS = 50
#: Up to this many observations every fit also restarts from the prior mode (a few
#: points can pull the previous fit into a poor basin); beyond, the warm start alone.
RESTART_BELOW = 40
#: Later fits start from the previous hyperparameters, already near the optimum.
WARM_FIT = FitSettings(maxiter=50, ftol=1e-4, gtol=1e-3)
#: A fit from scratch on at least ``COARSE_ABOVE`` points first fits a subset of
#: ``COARSE_POINTS`` (chosen like the fit subset) from the prior mode, then the whole
#: fit subset warm from there: the long walk from the prior mode costs evaluations
#: on 50 points instead of 200. On Levy, Ackley and Rosenbrock (d = 20, n = 200, three
#: seeds each) the fit is 1.5–2.5× faster and its held-out predictions are unchanged
#: but for one seed in nine (a slightly worse basin, log posterior 0.2 % lower).
COARSE_POINTS = 50
COARSE_ABOVE = 150
#: Spaces with at least this many continuous or integer coordinates search sequential
#: proposals inside a trust region around the incumbent (see :mod:`fasthpo.gp.trust_region`).
TRUST_REGION_DIM = 10
#: In a trust region, refits on fewer results than this fit the GP to both output
#: transforms (plain and shifted, :mod:`fasthpo.gp.transforms`) and keep the shifted one
#: when its log posterior, in the observed values' units, is higher by more than log n
#: (the penalty of one more parameter in BIC's terms). Rosenbrock-10's median regret fell
#: 2.6× (56 of 60 seeds better); problems from 10 dimensions that prefer the plain
#: transform run nearly as before. Below 10 dimensions the choice lost Branin and
#: Styblinski-Tang-5; from 100 results the last choice stands, since fitting twice would
#: double a fresh fit's cost (docs/benchmarks.md).
TRANSFORM_CHOICE_BELOW = 100
#: An improvement smaller than this share of the incumbent's magnitude is no success.
TRUST_REGION_GAIN = 1e-3
#: How pending trials enter the acquisition (see the module docstring).
BATCH_MODES = (
    "marginal", "believer", "capped", "liar-min", "liar-mean", "liar-max", "sampled", "penalised",
)
#: ``marginal``: hyperparameter draws averaged besides the MAP, on models of at most
#: ``MARGINAL_UP_TO`` results (early fits, the overconfident ones; later the MAP alone,
#: which also keeps a proposal with 64 pending at n = 1,000 as cheap as ``capped``).
HYPER_SAMPLES = 4
HYPER_MAX_STD = 2.0
MARGINAL_UP_TO = 100
#: Share of the running trials proposed by exploiting slots (``marginal`` and ``capped``):
#: LogEI without fantasies, a ball of ``EXPLOIT_RADIUS`` (unit cube) around each pending
#: point excluded (see :mod:`fasthpo.gp.exploitation`). 0 turns them off.
EXPLOIT_SHARE = 0.25
EXPLOIT_RADIUS = 0.05
#: Exploiting slots start at this many running trials: at 4 the capped fantasies still let
#: the batch close in on Hartmann-6's basin, and an exploiting slot there cost more than it
#: gained (docs/benchmarks.md, "Exploiting slots").
EXPLOIT_FROM = 8


class BayesianOptimizer:
    """GP-based proposals with the ask/tell face of every strategy.

    Parameters
    ----------
    space
        The search space.
    seed
        Seed of every random choice (initial design, candidates, subsets).
    direction
        ``"minimize"`` or ``"maximize"``.
    n_initial
        Size of the quasi-random initial design (default: between 5 and 10,
        growing with the number of hyperparameters).
    refit_all_below, refit_growth
        The refit policy (see the module docstring).
    max_points
        Largest number of observations the GP is conditioned on.
    fit_points
        Largest number of observations its hyperparameters are fitted to (a subset
        of the conditioning set: the best half and a random sample of the rest).
    candidates
        Quasi-random candidates per proposal (as many again come from
        perturbing the best points).
    prior
        ``(config, value)`` results known before the first proposal (a warm
        start from earlier jobs): told at once, so they are the model's data
        from the first proposal on.
    batch
        How pending trials enter the acquisition: ``"marginal"`` (default),
        ``"capped"``, ``"believer"``, ``"liar-min"``, ``"liar-mean"``, ``"liar-max"``,
        ``"sampled"`` or ``"penalised"`` (see the module docstring).
    fantasy_samples
        Fantasy models averaged by ``"sampled"``.
    fantasy_noise
        Extra noise variance of fantasies, as a fraction of the GP amplitude
        (0: as certain as real results).
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int | None = None,
        direction: Direction = "minimize",
        n_initial: int | None = None,
        refit_all_below: int = 300,
        refit_growth: float = 0.1,
        max_points: int = 1500,
        fit_points: int = 200,
        candidates: int = 256,
        prior: Sequence[tuple[Mapping[str, Any], float]] = (),
        batch: str = "marginal",
        fantasy_samples: int = 16,
        fantasy_noise: float = 0.0,
    ) -> None:
        self.space = space
        self._observations = Observations(space, direction)
        self.direction = self._observations.direction
        self._sign = 1.0 if self.direction == "minimize" else -1.0
        self._encoder = SpaceEncoder(space)
        self._rng = np.random.default_rng(seed)
        # A child generator, as SciPy's qmc.Sobol(seed=self._rng) spawned: the same design
        # and the same stream after it.
        self._sobol = scrambled_sobol(len(space), self._rng.spawn(1)[0])
        self.n_initial = n_initial or min(10, max(5, len(space) + 1))
        self.refit_all_below = refit_all_below
        self.refit_growth = refit_growth
        self.max_points = max_points
        self.fit_points = fit_points
        self.n_candidates = candidates
        if batch not in BATCH_MODES:
            raise ValueError(f"batch must be one of {', '.join(BATCH_MODES)}, got {batch!r}")
        self.batch = batch
        self.fantasy_samples = fantasy_samples
        self.fantasy_noise = fantasy_noise
        self._size = finite_size(space)
        self._Zbuffer = np.zeros((0, self._encoder.dim))
        self._hp: Hyperparameters | None = None
        self._model: GaussianProcess | None = None
        self._transform: PowerStandardizer | None = None
        self._shifted = False  # the output transform's variant (see _refit)
        self._fitted_n = 0  # observations at the last refit
        self._model_n = 0  # observations the model has been updated with
        self._warp = InputWarp((), (), ())  # the fitted warp of the auto coordinates
        self._verdicts = {p.name: scale_detection.not_fitted() for p in self._encoder.auto}
        n_free = int(self._encoder.continuous.sum())
        self._trust = TrustRegion.for_dimension(n_free) if n_free >= TRUST_REGION_DIM else None
        self._samples: tuple[tuple[int, int], list[Hyperparameters]] | None = None
        self._busy_rows: dict[tuple[Any, ...], Any] = {}  # see _encode_busy
        self._ties = TiedValues()  # see _avoiding_plateaus
        self._exploiting: set[tuple[Any, ...]] = set()  # keys proposed by exploiting slots
        self._trust_best: tuple[int, float] | None = None  # (n, best y) at the last proposal
        #: LogEI (in the model's standardised units) of the last model-based proposal;
        #: ``None`` while proposals come from the initial design.
        self.last_log_ei: float | None = None
        #: Diagnostics: when a list, each model-based proposal appends a record of what
        #: chose it (see ``benchmarks/parallel_trace.py``); ``None`` records nothing.
        self.trace: list[dict[str, Any]] | None = None
        for config, value in prior:
            self.tell(config, value)

    # -- the ask/tell face -----------------------------------------------------------

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Record a finished evaluation (validated; a bad call changes nothing)."""
        normalised = self._observations.add(config, value)
        row = self._encoder.encode([normalised])[0]
        if len(self._observations) > len(self._Zbuffer):  # grow geometrically: O(1) per tell
            grown = np.zeros((max(64, 2 * len(self._Zbuffer)), self._encoder.dim))
            grown[: len(self._Zbuffer)] = self._Zbuffer
            self._Zbuffer = grown
        self._Zbuffer[len(self._observations) - 1] = row

    def tell_failed(self, config: Mapping[str, Any]) -> None:
        """Record that evaluating ``config`` failed (it produced no value): it counts as
        evaluated and is never proposed again, and nothing is learnt from it."""
        self._observations.add_failed(config)

    def best(self) -> tuple[dict[str, Any], float] | None:
        """Best configuration and value told so far."""
        return self._observations.best()

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """What the last model fit says about each ``auto`` hyperparameter's scale.

        Returns ``{name: (verdict, evidence)}`` for the continuous and integer
        hyperparameters declared ``auto`` (an empty dict when there are none). The
        verdict is ``"linear"``, ``"log"``, ``"reverse_log"`` or ``"undetermined"``
        (always the last before the first model fit); the evidence is a small
        JSON-serialisable dict of floats and strings (the fitted warp shapes and
        its distance to each scaling's map, see :mod:`fasthpo.strategies.scale_detection`).
        Costs nothing: it returns what the last fit computed.
        """
        return {name: (v, dict(evidence)) for name, (v, evidence) in self._verdicts.items()}

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Return up to ``n`` new configurations (fewer only when a finite space is used up)."""
        n = check_count(n)
        validated = [self.space.validate(c) for c in pending]
        with single_threaded_blas():
            return self._ask(n, validated)

    def _ask(self, n: int, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        taken = self._observations.keys()  # the pending ones are validated already: not twice
        taken.update(config_key(self.space, c) for c in pending)
        proposals: list[dict[str, Any]] = []
        for _ in range(n):
            if self._size is not None and len(taken) >= self._size:
                break
            # The design runs until n_initial results are *in*: with q pending, counting
            # them would fit the first model to one or two points (the trace of
            # docs/benchmarks.md). Sequentially this is the same rule.
            told = len(self._observations)
            if told == 0 or (
                told < self.n_initial and (pending or told + len(proposals) < self.n_initial)
            ):
                config = self._initial(taken)
            else:
                # Pending trials and the earlier proposals of this batch, alike.
                busy = [*pending, *proposals]
                exploit = self._exploiting_turn(busy)
                if exploit:
                    acquisition = self._exploiting_acquisition(busy)
                    box = self._exploit_box()
                else:
                    acquisition = self._acquisition(busy, len(proposals))
                    box = self._trust_box() if not busy else None
                    if not busy:
                        acquisition = self._avoiding_plateaus(acquisition)
                config = self._propose(acquisition, taken, box)
                if exploit:
                    self._exploiting.add(config_key(self.space, config))
            taken.add(config_key(self.space, config))
            proposals.append(config)
        return proposals

    def _acquisition(self, busy: list[dict[str, Any]], index: int) -> Any:
        """The acquisition of the next proposal, given the ``busy`` configurations (pending
        trials and earlier proposals of the batch) whose results are not known yet."""
        model, best = self._model_and_best()
        if not busy:
            acquisition: Any = LogExpectedImprovement(model, best)
        else:
            P = self._warp.apply(self._encode_busy(busy))
            if self.batch == "penalised":
                probe = np.vstack([self._warp.apply(self._Z), self._warp.apply(
                    self._encoder.from_unit(self._rng.random((256, self._encoder.dim)), snap=False))])
                lipschitz = lipschitz_estimate(model, probe)
                acquisition = PenalisedLogEI(model, best, P, lipschitz)
                gp = model
            elif self.batch == "sampled":
                gp, alphas, lowest = sample_fantasies(model, P, self.fantasy_samples, self._rng)
                acquisition = FantasyLogEI(gp, alphas, np.minimum(best, lowest))
            else:
                soft = self.fantasy_noise * model.hp.amplitude
                if self.batch in ("believer", "capped", "marginal"):
                    # At the posterior mean; capped: never better than the incumbent.
                    floor = -math.inf if self.batch == "believer" else best
                    gp = model.extended(P, extra_noise=soft, floor=floor)
                else:  # constant liar
                    assert self._transform is not None
                    t = self._transform.transform(self._sign * np.asarray(self._observations.values))
                    lie = {"liar-min": t.min(), "liar-mean": t.mean(), "liar-max": t.max()}
                    gp = model.extended(P, np.full(len(P), float(lie[self.batch])), soft)
                believed = gp.y[len(model):]
                acquisition = self._with_draws(
                    model, LogExpectedImprovement(gp, min(best, float(believed.min()))), best,
                    lambda draw: draw.extended(P, extra_noise=soft, floor=best),
                )
        if self.trace is not None:
            hp = model.hp
            self.trace.append({
                "n": len(self._observations), "busy": len(busy), "batch_index": index,
                "best": best, "incumbent": acquisition.best,
                "lengthscales": hp.lengthscales.tolist(), "amplitude": hp.amplitude,
                "noise": hp.noise, "pending": self._encode_busy(busy).tolist() if busy else [],
                "fantasies": (gp.y[len(model):].tolist() if busy else []),
            })
        return acquisition

    def _avoiding_plateaus(self, acquisition: Any) -> Any:
        """``acquisition`` with a ball excluded around each observation whose result
        repeats a nearby one's exactly (see :mod:`fasthpo.strategies.plateaus`)."""
        # Twins are found in the encoded box (nearness is all that is asked there); the
        # balls sit in the model's warped space, where the acquisition is searched.
        self._ties.update(self._observations.values)
        rows = self._ties.plateau_points(self._Z)
        if len(rows) == 0:
            return acquisition
        log.debug("avoiding %d observations on plateaus", len(rows))
        W = self._warp.apply(self._Z[rows]) if len(self._warp) else self._Z[rows]
        return ExcludingAcquisition(acquisition, W, PLATEAU_RADIUS)

    def _exploiting_turn(self, busy: list[dict[str, Any]]) -> bool:
        """Whether the next proposal comes from an exploiting slot (never without pending
        trials: the sequential path is untouched)."""
        if len(busy) + 1 < EXPLOIT_FROM or EXPLOIT_SHARE <= 0 or self.batch not in (
            "marginal", "capped"
        ):
            return False
        keys = {config_key(self.space, c) for c in busy}
        self._exploiting &= keys  # those that finished are no longer running
        return exploiting_turn(len(self._exploiting), len(busy), EXPLOIT_SHARE)

    def _exploiting_acquisition(self, busy: list[dict[str, Any]]) -> Any:
        """LogEI of the model(s) without fantasies, pending points excluded by small balls."""
        model, best = self._model_and_best()
        acquisition = self._with_draws(model, LogExpectedImprovement(model, best), best)
        encoded = self._encode_busy(busy)
        if self.trace is not None:
            hp = model.hp
            self.trace.append({
                "n": len(self._observations), "busy": len(busy), "batch_index": -1,
                "exploiting": True,
                "best": best, "incumbent": best, "lengthscales": hp.lengthscales.tolist(),
                "amplitude": hp.amplitude, "noise": hp.noise,
                "pending": encoded.tolist(), "fantasies": [],
            })
        return ExcludingAcquisition(acquisition, self._warp.apply(encoded), EXPLOIT_RADIUS)

    def _model_and_best(self) -> tuple[GaussianProcess, float]:
        """The model, brought up to date, and the best observed value in its units."""
        model = self._update_model()
        assert self._transform is not None
        y = self._sign * np.asarray(self._observations.values)
        return model, float(self._transform.transform(np.array([y.min()]))[0])

    def _with_draws(
        self,
        model: GaussianProcess,
        acquisition: LogExpectedImprovement,
        best: float,
        condition: Callable[[GaussianProcess], GaussianProcess] | None = None,
    ) -> Any:
        """``acquisition`` (of the MAP model) averaged with the LogEI of the hyperparameter
        draws' models, each first ``condition``-ed like the MAP one (the fantasies), while
        ``batch="marginal"`` and the model is small; ``acquisition`` itself otherwise."""
        if self.batch != "marginal" or len(model) > MARGINAL_UP_TO:
            return acquisition
        draws = (resampled(model, hp) for hp in self._hyper_samples(model))
        return AveragedLogEI([acquisition, *(
            LogExpectedImprovement(draw if condition is None else condition(draw), best)
            for draw in draws
        )])

    def _exploit_box(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Where an exploiting slot searches: the whole box (``None``)."""
        return None

    def _encode_busy(self, busy: list[dict[str, Any]]) -> np.ndarray:
        """The busy configurations encoded (k, D). The rows of the last call are kept: an
        asynchronous run passes nearly the same pending set at every ask (64 pending at
        d = 20: 4 ms of encoding saved per ask)."""
        keys = [config_key(self.space, c) for c in busy]
        rows = [self._busy_rows.get(key) for key in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            for i, row in zip(missing, self._encoder.encode([busy[i] for i in missing]),
                              strict=True):
                rows[i] = row
        self._busy_rows = dict(zip(keys, rows, strict=True))
        return np.array(rows, dtype=float).reshape(len(busy), self._encoder.dim)

    def _hyper_samples(self, model: GaussianProcess) -> list[Hyperparameters]:
        """Laplace draws of the hyperparameters around ``model``'s fit, drawn once per
        model state (a batch's later proposals reuse them)."""
        key = (self._fitted_n, len(model))
        if self._samples is None or self._samples[0] != key:
            draws = laplace_samples(model.X, model.y, model.hp, HYPER_SAMPLES, self._rng,
                                    max_std=HYPER_MAX_STD)
            self._samples = (key, draws)
        return self._samples[1]

    @property
    def _Z(self) -> np.ndarray:
        """Encoded observations (n, D), a view of the growable buffer."""
        return self._Zbuffer[: len(self._observations)]

    # -- proposals --------------------------------------------------------------------

    def _initial(self, taken: set[tuple[Any, ...]]) -> dict[str, Any]:
        """A point of the Sobol design (uniform in the encoded box: ``auto`` in its prior scale)."""
        for _ in range(64):
            config = self._encoder.decode(self._encoder.from_unit(self._sobol.random(1)))[0]
            if config_key(self.space, config) not in taken:
                return config
        return self._random_free(taken)

    def _random_free(self, taken: set[tuple[Any, ...]]) -> dict[str, Any]:
        from fasthpo.strategies.random import RandomSearch

        search = RandomSearch(self.space, seed=int(self._rng.integers(2**31)))
        for _ in range(256):
            config = search.ask(1)[0]
            if config_key(self.space, config) not in taken:
                return config
        return config

    def _update_model(self) -> GaussianProcess:
        n = len(self._observations)
        if self._model is not None and self._model_n == n:
            return self._model  # nothing new since (a batch's later proposals)
        y = self._sign * np.asarray(self._observations.values)
        due = (
            self._model is None
            or n <= self.refit_all_below
            or n >= math.ceil(self._fitted_n * (1.0 + self.refit_growth))
            or len(self._model) >= math.ceil(self.max_points * (1.0 + self.refit_growth))
        )
        if due:
            self._refit(y)
            if self._rescale_auto():
                self._refit(y)  # in the scales the data chose
            log.debug("refitted the GP on %d observations", n)
        else:
            assert self._model is not None and self._transform is not None
            # Results that arrived since the model was last updated; observations the
            # subset left out at the refit stay out until the next one.
            for i in range(self._model_n, n):
                value = float(self._transform.transform(y[i : i + 1])[0])
                self._model.append(self._warp.apply(self._Z[i : i + 1])[0], value)
            self._model_n = n
        assert self._model is not None
        return self._model

    def _refit(self, y: np.ndarray) -> None:
        """Fit the hyperparameters (warps included) on at most ``fit_points`` observations,
        condition the GP on at most ``max_points``, and give the verdicts on the ``auto`` scales."""
        n = len(y)
        rows = self._subset(y, np.arange(n), self.max_points)
        fit_rows = self._subset(y, rows, self.fit_points)
        columns = self._encoder.auto_columns
        X = self._Z[fit_rows]
        if self._trust is not None and n < TRANSFORM_CHOICE_BELOW:
            fits = []
            for shifted in (False, True):
                transform = PowerStandardizer.fit(y[rows], shifted=shifted)
                hp = self._fit_hyperparameters(y, fit_rows, transform)
                t = transform.transform(y[fit_rows])
                # log p(t | θ) p(θ) at the MAP, in the observed values' units.
                score = -NegLogPosterior(X, t, hp.warp_columns)(hp.vector())[0]
                score += transform.log_jacobian(y[fit_rows])
                if shifted:
                    score -= math.log(len(fit_rows))
                fits.append((score, transform, hp))
            _, self._transform, self._hp = max(fits, key=lambda fit: fit[0])
            if self._transform.shifted != self._shifted:
                log.debug("output transform: %s from n = %d",
                          "shifted" if self._transform.shifted else "plain", n)
            self._shifted = self._transform.shifted
        else:
            self._transform = PowerStandardizer.fit(y[rows], shifted=self._shifted)
            self._hp = self._fit_hyperparameters(y, fit_rows, self._transform)
        t = self._transform.transform(y[fit_rows])
        self._warp = self._hp.warp
        self._model = GaussianProcess(
            self._warp.apply(self._Z[rows]), self._transform.transform(y[rows]), self._hp
        )
        self._fitted_n = self._model_n = n
        if columns:
            self._verdicts = scale_detection.verdicts(
                self._encoder.auto, columns, self._encoder.auto_scales, X,
                self._warp.apply(X), t, lengthscales=self._hp.lengthscales,
                amplitude=self._hp.amplitude, noise=self._hp.noise, mean=self._hp.mean,
                warp_a=self._warp.a, warp_b=self._warp.b, rng=self._rng,
                min_points=max(scale_detection.MIN_VERDICT_POINTS, 2 * len(self.space)),
            )

    def _fit_hyperparameters(
        self, y: np.ndarray, fit_rows: np.ndarray, transform: PowerStandardizer
    ) -> Hyperparameters:
        """MAP hyperparameters on ``fit_rows`` in ``transform``'s units, from the previous
        fit (and the prior mode while n ≤ ``RESTART_BELOW``, or on a first fit)."""
        dim, columns = self._encoder.dim, self._encoder.auto_columns
        warm = self._hp is not None
        starts = [self._hp] if self._hp is not None else []
        if self._hp is None or len(y) <= RESTART_BELOW:
            starts.append(Hyperparameters.prior_mode(dim, columns))
        if not warm and len(fit_rows) >= COARSE_ABOVE:
            coarse = self._subset(y, fit_rows, COARSE_POINTS)
            starts = [fit_hyperparameters(
                self._Z[coarse], transform.transform(y[coarse]), starts=starts,
                settings=FRESH_FIT,
            )]
            warm = True
        # A warm start sits near the optimum: a loose tolerance and a short cap suffice.
        if warm:
            settings = WARM_FIT
        else:
            settings = FRESH_FIT_MANY_POINTS if len(fit_rows) >= MANY_POINTS else FRESH_FIT
        return fit_hyperparameters(
            self._Z[fit_rows], transform.transform(y[fit_rows]), starts=starts, settings=settings
        )

    def _rescale_auto(self) -> bool:
        """Move each ``auto`` coordinate whose verdict names another scale into that scale.

        The warp alone bends slowly away from its prior (a log prior over six decades
        is far from linear); a confident verdict is used at once instead: the
        observations are re-encoded, that coordinate's warp starts again from the
        identity, and the model is refitted. Returns whether anything moved.
        """
        moved = False
        for p, scale in zip(self._encoder.auto, self._encoder.auto_scales, strict=True):
            verdict = self._verdicts[p.name][0]
            if verdict != "undetermined" and verdict != scale.name:
                self._encoder.rescale(p.name, scale_detection.scale_map(p, verdict))
                log.debug("searching %s in %s scale from now on", p.name, verdict)
                moved = True
        if moved:
            self._busy_rows = {}  # encoded in the old scale
            self._ties.forget_distances()
            n = len(self._observations)
            self._Zbuffer[:n] = self._encoder.encode(self._observations.configs)
            assert self._hp is not None
            self._hp = Hyperparameters(
                self._hp.log_lengthscales, self._hp.log_amplitude, self._hp.log_noise,
                self._hp.mean, self._hp.warp_columns, np.zeros_like(self._hp.log_warp_a),
                np.zeros_like(self._hp.log_warp_b),
            )
        return moved

    def _subset(self, y: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
        """At most ``size`` of ``rows`` (sorted): the best half by y and a random sample of the rest."""
        if len(rows) <= size:
            return rows
        order = rows[np.argsort(y[rows], kind="stable")]
        best = order[: size // 2]
        rest = self._rng.choice(order[size // 2 :], size - len(best), replace=False)
        return np.sort(np.concatenate([best, rest]))

    def _trust_box(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The trust region's box in model coordinates (``None`` without a region), after
        counting the results that arrived since the last proposal as a success or not."""
        if self._trust is None or self._hp is None:
            return None
        y = self._sign * np.asarray(self._observations.values)
        n, best = len(y), float(y.min())
        if self._trust_best is not None and n > self._trust_best[0]:
            last = self._trust_best[1]
            self._trust.record(best < last - TRUST_REGION_GAIN * abs(last))
        self._trust_best = (n, best)
        center = self._Z[int(np.argmin(y))]
        if len(self._warp):
            center = self._warp.apply(center[None, :])[0]
        return self._trust.box(center, self._hp.lengthscales, self._encoder.continuous)

    def _propose(
        self,
        acquisition: Any,
        taken: set[tuple[Any, ...]],
        box: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """The best non-duplicate candidate by LogEI, searched in the model's (warped) space:
        quasi-random candidates are uniform there, perturbations step there and the polish
        moves there; every point is mapped back (inverse warp), snapped to a valid encoding
        and warped again before it is scored, so scores are of configurations that exist."""
        enc, warp = self._encoder, self._warp
        y = self._sign * np.asarray(self._observations.values)

        def settle(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            Z = enc.project(warp.inverse(W)) if len(warp) else enc.project(W)
            return Z, (warp.apply(Z) if len(warp) else Z)

        def perturb(W: np.ndarray, step: float) -> np.ndarray:
            return enc.perturb(W, self._rng, step, snap=False)

        quasi = enc.from_unit(self._sobol.random(self.n_candidates), snap=False)
        if box is not None:  # the space-filling candidates fill the trust region instead
            quasi = box[0] + (box[1] - box[0]) * quasi
        candidates, scores = rank_candidates(
            acquisition,
            observed=warp.apply(self._Z) if len(warp) else self._Z, values=y,
            quasi=quasi, perturb=perturb, settle=settle, free=enc.continuous,
            search=CandidateSearch(n_local=self.n_candidates), box=box,
        )
        for z, score in zip(candidates, scores, strict=True):
            config = enc.decode(z[None, :])[0]
            if config_key(self.space, config) not in taken:
                self.last_log_ei = float(score)
                if self.trace is not None:
                    self.trace[-1].update(proposal=z.tolist(), acquisition=float(score))
                return config
        return self._random_free(taken)
