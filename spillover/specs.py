"""The model-spec grammar of the config's ``models:`` entries, and its grid expansion.

One entry names the dependent variable and regressors as *terms* (a panel variable,
optionally wrapped: ``log(x)``, ``log1p(x)``, ``asinh(x)``, and outside those ``d(x)``,
``L1(x)``, ``L2(x)``, ``F1(x)``), the absorbed fixed effects (``entity``, ``year``, ``firm``,
``pref``, ``industry`` and interactions ``pref^year``), the sample, the covariance
(``vcov``) and the small-sample rule (``ssc``). ``radius_km`` and ``vcov`` may be lists:
the entry then expands into one spec per combination, with ids like ``baseline@r5`` or
``baseline@r10@conley10``. This module needs only pydantic, so a config is checked without
importing the estimation stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)


class Strict(BaseModel):
    """A frozen config model that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: Numeric variables of each family's panel that a term may name.
PANEL_VARIABLES: dict[str, tuple[str, ...]] = {
    "neighbourhood": (
        "exports",
        "shipments",
        "employees",
        "exports_imputed",
        "n_neighbours",
        "opr",
        "external_demand",
    ),
    "plant": (
        "exports",
        "shipments",
        "employees",
        "exposure",
        "n_centres",
        "weight_sum",
        "nearest_km",
        "external_demand",
    ),
}
#: Fixed effects and cluster variables a spec may name (``entity`` is the family's unit).
GROUPINGS = ("entity", "year", "firm", "pref", "industry")
FUNCTIONS = ("log", "log1p", "asinh")
#: Operators on a variable's yearly series: (name, year offsets with their signs).
OPERATORS: dict[str, tuple[tuple[int, float], ...]] = {
    "d": ((0, 1.0), (-1, -1.0)),
    "L1": ((-1, 1.0),),
    "L2": ((-2, 1.0),),
    "F1": ((1, 1.0),),
}
_CALL = re.compile(r"^\s*([A-Za-z0-9_]+)\s*\((.*)\)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Term:
    """A parsed term: ``operator(function(variable))``, each wrapper optional."""

    variable: str
    function: str | None = None
    operator: str | None = None

    @property
    def text(self) -> str:
        """The canonical spelling, used as the term's name in the estimates."""
        inner = f"{self.function}({self.variable})" if self.function else self.variable
        return f"{self.operator}({inner})" if self.operator else inner

    @property
    def stencil(self) -> tuple[tuple[int, float], ...]:
        """(year offset, sign) pairs: the term at year t is Σ sign · f(x at t + offset)."""
        return OPERATORS[self.operator] if self.operator else ((0, 1.0),)


def parse_term(text: str) -> Term:
    """Parse ``text`` into a :class:`Term`; raise ``ValueError`` saying what is allowed."""
    wrappers, rest = [], str(text)
    while match := _CALL.match(rest):
        wrappers.append(match.group(1))
        rest = match.group(2)
    rest = rest.strip()
    allowed = f"functions {list(FUNCTIONS)} inside operators {list(OPERATORS)}"
    if not _NAME.match(rest):
        raise ValueError(f"term {text!r}: expected a variable name, optionally wrapped ({allowed})")
    functions = [w for w in wrappers if w in FUNCTIONS]
    operators = [w for w in wrappers if w in OPERATORS]
    unknown = [w for w in wrappers if w not in FUNCTIONS and w not in OPERATORS]
    if (
        unknown
        or len(functions) > 1
        or len(operators) > 1
        or (operators and wrappers[0] not in OPERATORS)
    ):
        raise ValueError(f"term {text!r}: use at most one of each, {allowed}")
    return Term(rest, functions[0] if functions else None, operators[0] if operators else None)


def _grouping(name: str) -> str:
    parts = name.split("^")
    if len(parts) > 2 or len(set(parts)) != len(parts) or any(p not in GROUPINGS for p in parts):
        raise ValueError(
            f"{name!r}: use one of {list(GROUPINGS)} or an interaction of two, e.g. 'pref^year'"
        )
    return name


_VCOV_KEYS = {
    "iid": set(),
    "hetero": set(),
    "cluster": {"by"},
    "driscoll_kraay": {"lags"},
    "conley": {"cutoff_km", "kernel", "serial_lags"},
    "wild_bootstrap": {"cluster", "reps", "weights", "seed"},
}


class VcovSpec(Strict):
    """The covariance of one spec (formulas in docs/estimation.md)."""

    type: Literal["iid", "hetero", "cluster", "driscoll_kraay", "conley", "wild_bootstrap"]
    by: list[str] = Field(default_factory=lambda: ["entity"], min_length=1, max_length=2)
    lags: int | None = Field(None, ge=0, description="Driscoll–Kraay Bartlett lags (years)")
    cutoff_km: float | None = Field(None, gt=0, description="Conley distance cutoff (km)")
    kernel: Literal["bartlett", "uniform"] = "bartlett"
    serial_lags: int = Field(0, ge=0, description="Conley serial term lags (years)")
    cluster: str = "entity"
    reps: int = Field(9999, ge=99)
    weights: Literal["rademacher", "webb"] = "rademacher"
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _keys_of_type(cls, data: object) -> object:
        if isinstance(data, str):
            data = {"type": data}
        if isinstance(data, dict) and data.get("type") in _VCOV_KEYS:
            extra = set(data) - {"type"} - _VCOV_KEYS[data["type"]]
            if extra:
                takes = sorted(_VCOV_KEYS[data["type"]]) or "no other key"
                raise ValueError(
                    f"vcov type {data['type']!r} does not use {sorted(extra)} (it takes: {takes})"
                )
        return data

    @model_serializer(mode="wrap")
    def _used_keys(self, handler):
        """Dump only the keys of this type, so that a dumped vcov validates again."""
        return {k: v for k, v in handler(self).items() if k == "type" or k in _VCOV_KEYS[self.type]}

    @model_validator(mode="after")
    def _complete(self) -> VcovSpec:
        for name in [*self.by, self.cluster]:
            if name not in GROUPINGS:
                raise ValueError(f"cluster variable {name!r}: use one of {list(GROUPINGS)}")
        if self.type == "driscoll_kraay" and self.lags is None:
            raise ValueError("vcov driscoll_kraay needs 'lags' (years, e.g. 2)")
        if self.type == "conley" and self.cutoff_km is None:
            raise ValueError("vcov conley needs 'cutoff_km' (e.g. 10)")
        return self

    @property
    def label(self) -> str:
        """Full description, e.g. ``conley(cutoff_km=10, kernel=bartlett, serial_lags=0)``."""
        if self.type in ("iid", "hetero"):
            return self.type
        if self.type == "cluster":
            return f"cluster({', '.join(self.by)})"
        if self.type == "driscoll_kraay":
            return f"driscoll_kraay(lags={self.lags})"
        if self.type == "conley":
            return (
                f"conley(cutoff_km={self.cutoff_km:g}, kernel={self.kernel}, "
                f"serial_lags={self.serial_lags})"
            )
        return (
            f"wild_bootstrap(cluster={self.cluster}, reps={self.reps}, "
            f"weights={self.weights}, seed={self.seed})"
        )

    @property
    def tag(self) -> str:
        """Short name for grid ids: ``cluster-entity``, ``dk2``, ``conley10``, ``wild-firm``."""
        if self.type == "cluster":
            return "cluster-" + "-".join(self.by)
        if self.type == "driscoll_kraay":
            return f"dk{self.lags}"
        if self.type == "conley":
            tag = f"conley{self.cutoff_km:g}"
            tag += "-uniform" if self.kernel == "uniform" else ""
            return tag + (f"-L{self.serial_lags}" if self.serial_lags else "")
        if self.type == "wild_bootstrap":
            return f"wild-{self.cluster}"
        return self.type


Membership = Literal["yearly", "base_year", "ever"]


class SampleSpec(Strict):
    """Which panel rows a spec uses (after the rows missing a term are dropped)."""

    years: tuple[int, int] | None = None
    min_neighbours: int = Field(0, ge=0, description="neighbourhood family: n_neighbours ≥ this")
    balanced: bool = Field(False, description="keep only entities present in every sample year")
    direct_exports_only: bool = Field(
        False, description="drop rows whose exports include an imputed value"
    )
    weights: str | None = Field(None, description="a panel variable used as regression weights")
    membership: Membership = Field(
        "yearly",
        description="centres and excluded neighbours decided each year, fixed at the "
        "establishment's first year, or ever global / ever large",
    )


SmallSample = Literal["fixest", "linearmodels", "none"]


class ModelSpec(Strict):
    """One ``models:`` entry; ``radius_km`` and ``vcov`` may be lists (a grid).

    ``family = "neighbourhood"`` is the white paper's design (entity = centre plant, y and x =
    sums over its neighbourhood, OPR of its firm); ``"plant"`` is the plant-level exposure
    design (entity = establishment, x = Σ w(d)·OPR of global-firm plants nearby). Expanded
    specs (:meth:`expand`) have one radius and one vcov, and ``grid`` = the id as written.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_\-]+(@[A-Za-z0-9_.\-]+)*$")
    family: Literal["neighbourhood", "plant"] = "neighbourhood"
    dependent: str = "exports"
    regressors: list[str] = Field(
        default_factory=lambda: ["opr", "external_demand", "shipments"], min_length=1
    )
    radius_km: float | list[float] = 5.0
    fe: list[str] = Field(default_factory=lambda: ["entity"])
    sample: SampleSpec = Field(default_factory=SampleSpec)
    vcov: VcovSpec | list[VcovSpec] = Field(default_factory=lambda: VcovSpec(type="cluster"))
    ssc: SmallSample = "fixest"
    engine: Literal["within", "linearmodels"] = "within"
    grid: str | None = None

    @field_validator("vcov", mode="before")
    @classmethod
    def _one_or_more_vcov(cls, value: object) -> object:
        """Validate each vcov here, so that an error names it rather than both union arms."""
        items = value if isinstance(value, list) else [value]
        parsed = []
        for number, item in enumerate(items):
            try:
                parsed.append(item if isinstance(item, VcovSpec) else VcovSpec.model_validate(item))
            except ValidationError as exc:
                where = f"[{number}] " if isinstance(value, list) else ""
                problems = [
                    ".".join(str(p) for p in e["loc"])
                    + ": "
                    + e["msg"].removeprefix("Value error, ")
                    if e["loc"]
                    else e["msg"].removeprefix("Value error, ")
                    for e in exc.errors()
                ]
                raise ValueError(where + "; ".join(problems)) from None
        return parsed if isinstance(value, list) else parsed[0]

    @field_validator("fe")
    @classmethod
    def _known_effects(cls, value: list[str]) -> list[str]:
        for name in value:
            _grouping(name)
        if len(set(value)) != len(value):
            raise ValueError(f"fe repeats a name: {value}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return _from_shorthand(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _identified(self) -> ModelSpec:
        terms = [parse_term(t) for t in (self.dependent, *self.regressors)]
        texts = [t.text for t in terms]
        if len(set(texts)) != len(texts):
            raise ValueError(f"dependent and regressors repeat a term: {texts}")
        if self.family == "plant" and self.sample.min_neighbours:
            raise ValueError("sample.min_neighbours applies to the neighbourhood family only")
        return self

    @property
    def terms(self) -> list[Term]:
        """Dependent first, then the regressors."""
        return [parse_term(t) for t in (self.dependent, *self.regressors)]

    @property
    def regressor_names(self) -> list[str]:
        """The regressors' canonical term names (the ``term`` column of the estimates)."""
        return [parse_term(t).text for t in self.regressors]

    def expand(self) -> list[ModelSpec]:
        """One spec per (radius, vcov) of the grid; ids gain ``@r<km>`` / ``@<vcov tag>``."""
        radii = self.radius_km if isinstance(self.radius_km, list) else [self.radius_km]
        vcovs = self.vcov if isinstance(self.vcov, list) else [self.vcov]
        specs = []
        for radius, vcov in product(radii, vcovs):
            suffix = f"@r{radius:g}" if isinstance(self.radius_km, list) else ""
            suffix += f"@{vcov.tag}" if isinstance(self.vcov, list) else ""
            update = {"id": self.id + suffix, "radius_km": float(radius), "vcov": vcov}
            specs.append(self.model_copy(update={**update, "grid": self.id}))
        return specs


_LEGACY_VCOV = {"clustered": "cluster", "robust": "hetero", "unadjusted": "iid"}
_LEGACY_KEYS = ("entity_effects", "time_effects", "cov_type", "cluster", "transform", "years")


def _from_shorthand(data: dict) -> dict:
    """Translate the 0.1 keys (entity_effects, time_effects, cov_type, cluster, transform, years).

    ``transform: log1p`` wraps the dependent and the money regressors in ``log1p()``.
    """
    if not any(key in data for key in _LEGACY_KEYS):
        return data
    data = dict(data)
    legacy = {key: data.pop(key) for key in _LEGACY_KEYS if key in data}
    if "fe" not in data:
        data["fe"] = ["entity"] * legacy.get("entity_effects", True) + ["year"] * legacy.get(
            "time_effects", False
        )
    if "vcov" not in data:
        cov_type = legacy.get("cov_type", "clustered")
        if cov_type not in _LEGACY_VCOV:
            raise ValueError(
                f"cov_type {cov_type!r}: write vcov: {{type: ...}} "
                f"(one of {list(_VCOV_KEYS)}; docs/estimation.md)"
            )
        vcov = {"type": _LEGACY_VCOV[cov_type]}
        if vcov["type"] == "cluster":
            vcov["by"] = [legacy.get("cluster", "entity")]
        data["vcov"] = vcov
    if legacy.get("transform", "level") == "log1p":
        money = ("exports", "shipments", "employees")

        def wrap(term: str) -> str:
            return f"log1p({term})" if term in money else term

        data["dependent"] = wrap(data.get("dependent", "exports"))
        data["regressors"] = [
            wrap(t) for t in data.get("regressors", ["opr", "external_demand", "shipments"])
        ]
    elif legacy.get("transform", "level") != "level":
        raise ValueError(f"transform {legacy['transform']!r}: use 'level' or 'log1p'")
    if "years" in legacy:
        data["sample"] = {**data.get("sample", {}), "years": legacy["years"]}
    return data
