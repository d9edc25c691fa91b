"""Each page's state as URL query parameters, so that every view is a link.

One frozen dataclass per page lists exactly that page's widget values: each field has a type, a
default and the values it may take (declared with ``number``, ``integer``, ``choice``, ``flag``
or ``text`` below, in the manner of TensorFlow Playground's ``state.ts``). Two functions cross
the boundary:

    to_query(state)          -> {"lr": "0.05", ...}   only the fields that differ from the defaults
    from_query(Kind, params) -> (state, warnings)     never raises

``from_query`` reads every key it knows. A bad value (not a number, out of range, NaN or inf,
off the slider's grid, longer than ``MAX_LENGTH`` characters, not plain ASCII, an injection
string) keeps the default and adds a warning that names the parameter, says what it expects and
what is used instead; an unknown key is named too. Warnings are Markdown-safe: whatever came
from the URL is shown, shortened and escaped, inside a code span. So
``from_query(Kind, to_query(state)) == (state, [])`` for every valid state, and no query string
can make a page raise.

The ``present`` flag (presenter mode) belongs to the whole app: it is ``AppState`` and every
page accepts its key. This module knows nothing of Streamlit; pages/links.py syncs these states
with ``st.query_params`` and the widgets (whose keys are ``<page>_<field>``).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, fields, make_dataclass, replace
from typing import Any

from pg.algo.estimators import DEFAULT_ESTIMATORS
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, PRESETS, config_from_form, form_values, preset_config
from pg.envs.cartpole import INIT_BOUND, X_THRESHOLD
from pg.lessons.comparison import COMPARE_CHOICES, COMPARE_EPISODES, MAX_ESTIMATORS, CompareSettings
from pg.runs.footprint import COMPARISON_BUDGET, RUN_BUDGET, comparison_footprint, run_footprint, size_text
from pg.runs.live import MAX_SEEDS
from pg.viz.episode import MAX_NUDGE

MAX_LENGTH = 64  # characters: no honest value is longer
SHOWN_LENGTH = 24  # characters of a bad value or key quoted back in a warning (escaped)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_TEXT = re.compile(r"[A-Za-z0-9 ,.+_-]*")  # what a text field may hold: sizes, numbers, "none"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


# ---------------------------------------------------------------------------------------------
# Field specs: how one query value is checked and written
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    kind: str
    """"number", "integer", "choice", "subset", "flag" or "text\""""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """the range is (low, high] instead of [low, high]"""
    step: float | None = None
    """a slider's step: values lie on low + k * step"""
    options: tuple = ()
    """the allowed values of a choice"""
    slugs: bool = False
    """write a choice as a URL-friendly slug ("neural-network"); its exact name is read too"""
    optional: bool = False
    """None is allowed (and is never written)"""
    none_means: str = "none"
    """what None stands for, in a warning's "using ..." """

    def expects(self) -> str:
        """What a value must be, in words."""
        if self.kind == "flag":
            return "1 or 0 (on or off)"
        if self.kind == "choice":
            return "one of " + ", ".join(self.write(o) for o in self.options)
        if self.kind == "subset":
            return f"1 to {self.high:.0f} of " + ", ".join(self.options) + ", separated by commas, each once"
        if self.kind == "text":
            return f"text of letters, digits, spaces and , . + - _ (at most {MAX_LENGTH} characters)"
        bracket = "(" if self.low_open else "["
        noun = "an integer" if self.kind == "integer" else "a number"
        grid = f" in steps of {_plain(self.step)}" if self.step else ""
        return f"{noun} in {bracket}{_plain(self.low)}, {_plain(self.high)}]{grid}"

    def write(self, value) -> str:
        if self.kind == "flag":
            return "1" if value else "0"
        if self.kind == "choice":
            return slug(value) if self.slugs else str(value)
        if self.kind == "subset":
            return ",".join(value)
        if self.kind == "number":
            return _plain(_on_grid(value, self.step, self.low))
        return str(value)

    def read(self, text: str):
        """The value ``text`` stands for; ValueError (saying what was expected) if none."""
        if self.kind == "flag":
            if text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
        elif self.kind == "choice":
            for option in self.options:
                if text == str(option) or (self.slugs and slug(text) == slug(option)):
                    return option
        elif self.kind == "subset":
            parts = tuple(text.split(","))
            if set(parts) <= set(self.options) and len(set(parts)) == len(parts) and 1 <= len(parts) <= self.high:
                return parts
        elif self.kind == "text":
            if _TEXT.fullmatch(text):
                return text
        elif self.kind == "integer":
            if _INTEGER.fullmatch(text) and self._in_range(int(text)):
                return int(text)
        elif _NUMBER.fullmatch(text):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(f"must be {self.expects()}, not infinite")
            if self._in_range(value) and self._on_step(value):
                return _on_grid(value, self.step, self.low)
        raise ValueError(f"must be {self.expects()}")

    def _in_range(self, value) -> bool:
        above = self.low < value if self.low_open else self.low <= value
        return above and value <= self.high

    def _on_step(self, value: float) -> bool:
        if not self.step:
            return True
        k = (value - self.low) / self.step
        return abs(k - round(k)) < 1e-6


def number(default: float, low: float, high: float, step: float | None = None, low_open: bool = False):
    return field(default=default, metadata={"spec": Spec("number", low, high, low_open, step)})


def integer(default: int | None, low: int, high: int, none_means: str | None = None):
    """An integer in [low, high]; with ``none_means``, None is allowed and is the default."""
    spec = Spec("integer", low, high, optional=none_means is not None, none_means=none_means or "none")
    return field(default=default, metadata={"spec": spec})


def choice(default, options, slugs: bool = False):
    return field(default=default, metadata={"spec": Spec("choice", options=tuple(options), slugs=slugs)})


def subset(default: tuple, options, most: int):
    """Some of ``options`` (1 to ``most``, each once, in the order given), written "a,b,c"."""
    return field(default=default, metadata={"spec": Spec("subset", high=most, options=tuple(options))})


def flag(default: bool):
    return field(default=default, metadata={"spec": Spec("flag")})


def text(default: str):
    return field(default=default, metadata={"spec": Spec("text")})


def specs(kind) -> dict[str, Spec]:
    """{field name: Spec} of a state class, in declaration order."""
    return {f.name: f.metadata["spec"] for f in fields(kind)}


def defaults(kind) -> dict[str, Any]:
    return {f.name: f.default for f in fields(kind)}


def slug(option) -> str:
    """ "CartPole-v0 (the 195 bar)" -> "cartpole-v0-the-195-bar"."""
    return re.sub(r"[^a-z0-9]+", "-", str(option).lower()).strip("-")


def _on_grid(value: float, step: float | None, low: float | None = None) -> float:
    """The value on its slider's grid (0.30000000000000004 -> 0.3), or as is without a step."""
    value = float(value)
    if not step:
        return value
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    origin = low or 0.0
    return round(origin + round((value - origin) / step) * step, decimals) + 0.0  # + 0.0: no -0.0


def _plain(value: float) -> str:
    """The shortest text that reads back as the same float: 2.0 -> "2", 0.05 -> "0.05"."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# ---------------------------------------------------------------------------------------------
# The states
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AppState:
    """App-wide: read on every page."""

    present: bool = flag(False)
    """presenter mode: large type, less chrome, the guided story"""


@dataclass(frozen=True)
class HomeState:
    """Home has no settings of its own (presenter mode is app-wide)."""


THEOREM_PROBLEMS = ("tiny_cartpole", "bandit")
THEOREM_EPISODES = tuple(2**k for k in range(9))
THEOREM_PARTS = ("theorem", "baselines", "trainer")
"""the theorem page's three tabs: steps 1-5, 6-8 and 9-13"""


@dataclass(frozen=True)
class TheoremState:
    """The gradient theorem: the sidebar (problem, the three logits, N, seed), two sliders in the
    page (step 6's baseline b, step 7's learning rate) and the tab open (steps 1-5, 6-8 or 9-13)."""

    problem: str = choice("tiny_cartpole", THEOREM_PROBLEMS)
    logit_0: float = number(0.5, -3.0, 3.0, 0.1)
    logit_1: float = number(0.0, -3.0, 3.0, 0.1)
    logit_2: float = number(-0.5, -3.0, 3.0, 0.1)
    episodes: int = choice(16, THEOREM_EPISODES)
    seed: int = integer(0, 0, 1_000_000)
    b: float = number(2.0, -5.0, 5.0, 0.5)
    lr: float = number(0.5, 0.05, 2.0, 0.05)
    part: str = choice("theorem", THEOREM_PARTS)


SPEEDS = ("As fast as possible", "Human pace", "One step at a time")
DEFAULT_PRESET = "fastest"


def _train_field(name: str, kind: str, options, default):
    """A TrainState field from a row of pg.app.presets' form: the widget's own bounds."""
    if kind == "choice":
        return choice(default, options)
    if kind == "bool":
        return flag(default)
    if kind == "text":
        return text(default)
    low, high, _ = options
    if kind == "int":
        return integer(default, int(low), int(high))
    return number(default, float(low), float(high), low_open=_config_rejects(name, float(low)))


def _config_rejects(name: str, value) -> bool:
    """Whether TrainConfig refuses ``value`` for ``name`` (lr = 0 is refused: its range is open)."""
    try:
        config_from_form(_FORM_DEFAULTS | {name: value}, budget=None)
    except ValueError:
        return True
    return False


TRAIN_CONFIG_FIELDS = tuple(name for name, *_ in FORM_MAIN + FORM_ADVANCED)  # the page's config widgets


def preset_values(preset: str) -> dict:
    """The widget values of a preset: {field: value} for every config widget of the page."""
    values = form_values(preset_config(preset))
    return {name: values[name] for name in TRAIN_CONFIG_FIELDS}


_FORM_DEFAULTS = preset_values(DEFAULT_PRESET)
# Live training: the preset, one field per TrainConfig field (pg.app.presets' form, so the two
# cannot drift apart), then the number of seeds, the speed and the pace. A preset sets every
# config field, so to_query writes only what differs from the preset's values.
TrainState = make_dataclass(
    "TrainState",
    [("preset", str, choice(DEFAULT_PRESET, PRESETS, slugs=True))]
    + [
        (name, type(_FORM_DEFAULTS[name]), _train_field(name, kind, options, _FORM_DEFAULTS[name]))
        for name, kind, _, options in FORM_MAIN + FORM_ADVANCED
    ]
    + [
        ("n_seeds", int, integer(1, 1, MAX_SEEDS)),
        # by default a replay at human pace: 3 updates a second at 5 redraws a second shows the
        # default run (solved in 11 to 24 updates) in 4 to 8 s, a batch's episodes dot by dot
        ("speed", str, choice(SPEEDS[1], SPEEDS, slugs=True)),
        ("pace", int, integer(3, 1, 30)),
    ],
    frozen=True,
)
TrainState.__module__ = __name__
TrainState.__doc__ = (
    "Live training: the preset, every TrainConfig field as its widget holds it "
    "(sizes and optional numbers as text), seeds side by side, speed and pace."
)


@dataclass(frozen=True)
class HeatmapState:
    """Policy heatmap. Which checkpoints exist depends on the run shown, so the page checks
    ``checkpoint`` against it; None is the run's final policy."""

    checkpoint: int | None = integer(None, 0, 10_000_000, none_means="the final policy")
    x: float = number(0.0, -X_THRESHOLD, X_THRESHOLD, 0.1)
    x_dot: float = number(0.0, -2.0, 2.0, 0.1)
    overlay: bool = flag(True)


@dataclass(frozen=True)
class ReplayState:
    """Replay. The start sliders count only with ``start_by_hand``, the nudge's only with
    ``nudge``; the page leaves them at their defaults otherwise."""

    seed: int = integer(0, 0, 99_999)
    start_by_hand: bool = flag(False)
    mode: str = choice("greedy", ("greedy", "sampled"))
    nudge: bool = flag(False)
    x: float = number(0.0, -INIT_BOUND, INIT_BOUND, 0.01)
    x_dot: float = number(0.0, -INIT_BOUND, INIT_BOUND, 0.01)
    theta: float = number(0.0, -INIT_BOUND, INIT_BOUND, 0.01)
    theta_dot: float = number(0.0, -INIT_BOUND, INIT_BOUND, 0.01)
    nudge_step: int = integer(100, 1, 499)
    nudge_strength: float = number(1.0, -MAX_NUDGE, MAX_NUDGE, 0.1)


@dataclass(frozen=True)
class CreditState:
    """Credit assignment. As on the heatmap the page checks ``checkpoint`` against the run
    shown; None is the page's default, the run's first checkpoint after update 0."""

    checkpoint: int | None = integer(None, 0, 10_000_000, none_means="the first checkpoint after update 0")
    seed: int = integer(0, 0, 99_999)


@dataclass(frozen=True)
class CompareState:
    """Compare estimators: the sidebar (which estimators, GAE's lambda, seeds, episodes per
    update, the critic, normalisation). The results come from pressing Run: the same settings
    give the same numbers, computed once per server."""

    estimators: tuple = subset(tuple(e.partition(":")[0] for e in DEFAULT_ESTIMATORS), COMPARE_CHOICES, MAX_ESTIMATORS)
    gae_lambda: float = number(0.95, 0.0, 1.0, 0.05)
    seeds: int = integer(3, 1, MAX_SEEDS)
    episodes: int = choice(16, COMPARE_EPISODES)
    critic: str = choice("mlp", ("mlp", "linear"))
    normalize: bool = flag(False)


APP_KEYS = tuple(specs(AppState))


# ---------------------------------------------------------------------------------------------
# Crossing the boundary
# ---------------------------------------------------------------------------------------------
def reference(state) -> dict[str, Any]:
    """The values ``state`` is written relative to: the defaults, or for Live training the
    values of its preset."""
    base = defaults(type(state))
    if type(state) is TrainState and state.preset in PRESETS:
        base |= preset_values(state.preset) | {"preset": state.preset}
    return base


def to_query(state) -> dict[str, str]:
    """{key: text} for the fields of ``state`` that differ from the defaults (for Live
    training: from its preset's values, and the preset itself if it is not the default)."""
    base, out = reference(state), {}
    if type(state) is TrainState and state.preset != DEFAULT_PRESET:
        base["preset"] = DEFAULT_PRESET
    for name, spec in specs(type(state)).items():
        value = getattr(state, name)
        if value is not None and (base[name] is None or spec.write(value) != spec.write(base[name])):
            out[name] = spec.write(value)
    return out


def from_query(kind, params: dict, also_allowed=APP_KEYS) -> tuple[Any, list[str]]:
    """(state of type ``kind``, warnings) from query parameters {key: text or [texts]}.

    Keys in ``also_allowed`` (the app-wide ones) are skipped silently; other unknown keys warn.
    """
    known, values, warnings = specs(kind), defaults(kind), []
    given: dict[str, str] = {}
    for key, raw in params.items():
        texts = [str(t) for t in raw] if isinstance(raw, (list, tuple)) else [str(raw)]
        texts = texts or [""]
        key = str(key)
        if key not in known and key in also_allowed:
            continue
        if key not in known:
            warnings.append(f"Ignored `{_query(key, texts[-1])}`: {_unknown(key, known)}")
            continue
        if len(set(texts)) > 1:
            warnings.append(f"`?{key}` was given {len(texts)} times; {key} uses the last, `{_shown(texts[-1])}`.")
        given[key] = texts[-1]
    if kind is TrainState and "preset" in given:  # first: the preset sets every config field
        _read_one(kind, "preset", given.pop("preset"), values, warnings)
        values |= preset_values(values["preset"])
    for name in known:
        if name in given:
            _read_one(kind, name, given[name], values, warnings)
    if kind is TrainState:
        _check_config(values, warnings)
        _check_memory(values, warnings)
    if kind is CompareState:
        _check_comparison(values, warnings)
    return kind(**values), warnings


def _read_one(kind, name: str, raw: str, values: dict, warnings: list) -> None:
    """values[name] = the value ``raw`` stands for, or a warning and values[name] unchanged."""
    spec = specs(kind)[name]
    try:
        if len(raw) > MAX_LENGTH:
            raise ValueError(f"is {len(raw)} characters long; at most {MAX_LENGTH} are read")
        if not (raw.isascii() and raw.isprintable()):
            raise ValueError(f"must be plain ASCII text, {spec.expects()}")
        values[name] = spec.read(raw)
    except ValueError as problem:
        warnings.append(f"Ignored `{_query(name, raw)}`: {name} {problem}; using {_using(spec, values[name])}.")


def _check_config(values: dict, warnings: list) -> None:
    """TrainConfig's own validation, on the whole form: a field it rejects (a hidden size of
    600, a solve bar above the time limit) goes back to the preset's value, with its message."""
    base = preset_values(values["preset"])
    for _ in TRAIN_CONFIG_FIELDS:
        form = {name: values[name] for name in TRAIN_CONFIG_FIELDS}
        try:
            config_from_form(form, budget=None)  # the memory budget is _check_memory's
            return
        except ValueError as error:  # a ConfigError names its field
            named, message = getattr(error, "field", None), str(error)
        culprit = named if named in TRAIN_CONFIG_FIELDS and values[named] != base[named] else None
        if culprit is None:  # blame the first field that differs from the preset
            culprit = next((n for n in TRAIN_CONFIG_FIELDS if values[n] != base[n]), None)
            if culprit is None:
                return
        reason = re.sub(r"[,;] got .*$", "", message, flags=re.S)
        spec = specs(TrainState)[culprit]
        warnings.append(
            f"Ignored `{_query(culprit, spec.write(values[culprit]))}`: {reason}; using {_using(spec, base[culprit])}."
        )
        values[culprit] = base[culprit]


# What a run's memory grows with (pg.runs.footprint): the link's values of these fields go back
# to the preset's, the one that saves most first, until the run fits in RUN_BUDGET.
MEMORY_FIELDS = ("batch_episodes", "max_episode_steps", "eval_episodes", "hidden", "max_updates", "max_env_steps",
                 "n_seeds")


def run_bytes(values: dict) -> int | None:
    """The estimated peak bytes of the run these values describe (None if they cannot train)."""
    try:
        cfg = config_from_form({name: values[name] for name in TRAIN_CONFIG_FIELDS}, budget=None)
    except ValueError:
        return None
    return run_footprint(cfg, values["n_seeds"]).total


def _check_memory(values: dict, warnings: list) -> None:
    """A link whose run would need more memory than RUN_BUDGET: the fields that drive the size go
    back to the preset's values (the one that saves most first, only as many as needed), and one
    warning names them with the estimate and the limit."""
    first = need = run_bytes(values)
    if need is None or need <= RUN_BUDGET:
        return
    base = preset_values(values["preset"]) | {"n_seeds": defaults(TrainState)["n_seeds"]}
    given: dict[str, Any] = {}
    while need is not None and need > RUN_BUDGET:
        trials = [(run_bytes(values | {name: base[name]}), name)
                  for name in MEMORY_FIELDS if name not in given and values[name] != base[name]]
        trials = [(smaller, name) for smaller, name in trials if smaller is not None]
        if not trials:
            break
        need, name = min(trials)
        given[name], values[name] = values[name], base[name]
    if given:
        spec = specs(TrainState)
        ignored = ", ".join(f"`{_query(name, spec[name].write(value))}`" for name, value in given.items())
        using = ", ".join(f"{name} {_using(spec[name], base[name])}" for name in given)
        warnings.append(f"Ignored {ignored}: this run would need about {size_text(first)}, more than the "
                        f"{size_text(RUN_BUDGET)} one run may use here; using {using}.")


def _check_comparison(values: dict, warnings: list) -> None:
    """A comparison over COMPARISON_BUDGET goes back to the default settings, with a warning (the
    page's choices keep every comparison far below it; this guards a future wider choice)."""
    try:
        need = comparison_footprint(_compare_settings(values))
    except ValueError:
        return
    if need > COMPARISON_BUDGET:
        base = defaults(CompareState)
        changed = [name for name in ("estimators", "seeds", "episodes", "critic") if values[name] != base[name]]
        spec = specs(CompareState)
        ignored = ", ".join(f"`{_query(name, spec[name].write(values[name]))}`" for name in changed)
        warnings.append(f"Ignored {ignored}: this comparison would need about {size_text(need)}, more than the "
                        f"{size_text(COMPARISON_BUDGET)} one comparison may use here; using the defaults.")
        for name in changed:
            values[name] = base[name]


def _compare_settings(values: dict) -> CompareSettings:
    """The CompareSettings a CompareState's values stand for (as pages/views/compare.py builds them)."""
    names = tuple(f"gae:{values['gae_lambda']:g}" if e == "gae" else e for e in values["estimators"])
    return CompareSettings(names, n_seeds=values["seeds"], batch_episodes=values["episodes"],
                           value_model=values["critic"], normalize_advantages=values["normalize"])


def _using(spec: Spec, value) -> str:
    if value is None:
        return spec.none_means
    if spec.kind == "flag":
        return "on" if value else "off"
    if spec.kind == "subset":
        return ", ".join(value)
    return f"`{spec.write(value)}`" if spec.kind == "text" else spec.write(value)


def _unknown(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"this page has no parameter `{_shown(key)}`{hint}."


def _shown(text: str) -> str:
    """``text`` safe to quote in a Markdown code span: escaped (\\n, \\xe9), no backticks,
    at most SHOWN_LENGTH characters of it, then "…"."""
    shown = ""
    for char in text:
        escaped = char.encode("unicode_escape").decode("ascii").replace("`", "'")
        if len(shown) + len(escaped) > SHOWN_LENGTH:
            return shown + "…"
        shown += escaped
    return shown


def _query(key: str, value: str) -> str:
    return f"?{_shown(key)}={_shown(value)}"


def with_defaults(state, names) -> Any:
    """``state`` with the fields ``names`` set back to their defaults."""
    base = defaults(type(state))
    return replace(state, **{name: base[name] for name in names})


__all__ = [
    "AppState",
    "HomeState",
    "TheoremState",
    "TrainState",
    "HeatmapState",
    "ReplayState",
    "CreditState",
    "CompareState",
    "APP_KEYS",
    "SPEEDS",
    "MAX_LENGTH",
    "Spec",
    "to_query",
    "from_query",
    "specs",
    "defaults",
    "reference",
    "slug",
    "with_defaults",
    "preset_values",
    "run_bytes",
    "MEMORY_FIELDS",
]
